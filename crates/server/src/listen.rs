//! The API port's listening sockets.
//!
//! std's and tokio's `bind` listen with a backlog of 128. In `lamina bench`'s
//! burst of 200 concurrent cold-start invocations, that accept queue
//! overflowed while the server was busy starting sandboxes (`nstat`:
//! TcpExtListenOverflows 43–94 per burst), and each dropped SYN cost its
//! client TCP's 1 s retransmission timeout: the burst took 1.0 s instead of
//! 0.4 s. So the port listens with a deep queue (the kernel caps it at
//! `net.core.somaxconn`).

use std::net::SocketAddr;

/// Connections the kernel may hold for the server before it accepts them.
const BACKLOG: i32 = 4096;

/// A non-blocking listening socket on `addr`; with `reuse_port`, one of
/// several sharing it (SO_REUSEPORT).
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;
    use std::time::Duration;

    /// A burst of connections to a server that has not accepted them yet all
    /// complete their handshake at once; none waits out a SYN retransmission.
    #[test]
    fn a_burst_of_connections_waits_in_the_queue() {
        let listener = super::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for i in 0..300 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => held.push(s),
                Err(e) => panic!("connection {i} was not queued: {e}"),
            }
        }
    }
}
