//! The side-by-side comparison table: floor, Runtime API floor, Lamina, cargo-lambda.

use super::load::{micros, Run};

/// The value of one table cell, if that column was measured.
pub(super) fn cell(runs: Option<&[Run]>, row: &Row) -> Option<f64> {
    let run = runs?.iter().find(|r| r.clients == row.clients())?;
    Some(match row {
        Row::P50 => micros(run.percentile(0.5)),
        Row::P99 => micros(run.percentile(0.99)),
        Row::Throughput(_) => run.rate(),
        Row::ServerCpu(_) => run.server_cpu_us()?,
    })
}

pub(super) enum Row {
    P50,
    P99,
    Throughput(usize),
    /// CPU the server process spent per request (Lamina, the relay).
    ServerCpu(usize),
}

impl Row {
    fn clients(&self) -> usize {
        match self {
            Row::P50 | Row::P99 => 1,
            Row::Throughput(c) | Row::ServerCpu(c) => *c,
        }
    }

    fn label(&self) -> String {
        match self {
            Row::P50 => "warm 1 client p50 (µs)".into(),
            Row::P99 => "warm 1 client p99 (µs)".into(),
            Row::Throughput(c) => format!("throughput {c} client(s) (/s)"),
            Row::ServerCpu(c) => format!("CPU/req {c} client(s) (µs)"),
        }
    }
}

pub(super) fn fmt_value(v: Option<f64>, row: &Row) -> String {
    match (v, row) {
        (None, _) => "-".into(),
        (Some(v), Row::Throughput(_)) => format!("{v:.0}"),
        (Some(v), _) => format!("{v:.1}"),
    }
}

pub(super) fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

pub(super) fn print_table(
    clients: &[usize],
    floor: &[Run],
    relay: Option<&[Run]>,
    lamina: Option<&[Run]>,
    cargo_lambda: Option<&[Run]>,
) {
    let mut rows = vec![Row::P50, Row::P99];
    rows.extend(clients.iter().filter(|&&c| c > 0).map(|&c| Row::Throughput(c)));
    rows.extend(clients.iter().filter(|&&c| c > 1).map(|&c| Row::ServerCpu(c)));
    println!();
    println!("== side by side (Lamina: the provided function; relay: the same function behind the Runtime API floor;");
    println!(
        "   ratios are Lamina's value divided by the other's: for latency lower is better, for throughput higher)"
    );
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>13} {:>13} {:>13} {:>20}",
        "case", "floor", "relay", "Lamina", "cargo-lambda", "Lamina/floor", "Lamina/relay", "Lamina/cargo-lambda"
    );
    for row in &rows {
        let (f, r, l, c) = (cell(Some(floor), row), cell(relay, row), cell(lamina, row), cell(cargo_lambda, row));
        println!(
            "{:<30} {:>9} {:>9} {:>9} {:>13} {:>13} {:>13} {:>20}",
            row.label(),
            fmt_value(f, row),
            fmt_value(r, row),
            fmt_value(l, row),
            fmt_value(c, row),
            fmt_ratio(l, f),
            fmt_ratio(l, r),
            fmt_ratio(l, c)
        );
    }
    if let Some(&top) = clients.iter().max() {
        let top = Row::Throughput(top);
        if let (Some(l), Some(c)) = (cell(lamina, &top), cell(cargo_lambda, &top)) {
            let verdict = if l >= 3.0 * c { "meets" } else { "MISSES" };
            println!(
                "Lamina serves {:.2}× cargo-lambda's throughput with {} clients: {verdict} the ≥ 3× target.",
                l / c,
                top.clients()
            );
        }
    }
}
