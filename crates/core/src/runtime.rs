//! The runtimes Lamina runs, and the command that starts each one inside a
//! sandbox. Python and Node functions run on the host's interpreters with the
//! runtime interface clients Lamina ships at `/var/runtime`; `provided`
//! functions bring an executable `bootstrap`.

use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    Python,
    Node,
    Provided,
}

/// Every runtime identifier CreateFunction accepts.
pub const SUPPORTED: &[&str] = &[
    "provided.al2023",
    "provided.al2",
    "provided",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
];

impl RuntimeKind {
    /// The kind of a runtime identifier, or Lambda's refusal.
    pub fn parse(runtime: &str) -> Result<Self, Invalid> {
        if !SUPPORTED.contains(&runtime) {
            return Err(Invalid(format!(
                "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] \
                 or be a valid ARN",
                SUPPORTED.join(", ")
            )));
        }
        Ok(if runtime.starts_with("python") {
            Self::Python
        } else if runtime.starts_with("nodejs") {
            Self::Node
        } else {
            Self::Provided
        })
    }

    /// Program and arguments, as seen inside the sandbox.
    pub fn command(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::Python => ("/usr/bin/python3", &["-S", "/var/runtime/python/bootstrap.py"]),
            Self::Node => ("/usr/bin/node", &["/var/runtime/node/index.js"]),
            Self::Provided => ("/var/task/bootstrap", &[]),
        }
    }

    /// Whether the handler is required at CreateFunction.
    pub fn needs_handler(self) -> bool {
        self != Self::Provided
    }
}

/// `AWS_EXECUTION_ENV` for a runtime; custom runtimes have none.
pub fn execution_env(runtime: &str) -> Option<String> {
    (!runtime.starts_with("provided")).then(|| format!("AWS_Lambda_{runtime}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_runtimes_and_refuses_others() {
        assert_eq!(RuntimeKind::parse("python3.12").unwrap(), RuntimeKind::Python);
        assert_eq!(RuntimeKind::parse("nodejs20.x").unwrap(), RuntimeKind::Node);
        assert_eq!(RuntimeKind::parse("provided.al2023").unwrap(), RuntimeKind::Provided);
        assert!(RuntimeKind::parse("java21").is_err());
        assert!(RuntimeKind::parse("python2.7").is_err());
    }
}
