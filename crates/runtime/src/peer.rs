//! Who is on the other end of a loopback TCP connection.
//!
//! Sandboxes share the host's network, so any of them could connect to any
//! sandbox's Runtime API port. Each sandbox runs as its own host user, and
//! the kernel records the owner of every socket; looking up the peer's
//! socket tells which sandbox connected.
//!
//! The lookup asks the kernel directly through netlink `sock_diag`: one
//! `SOCK_DIAG_BY_FAMILY` request naming the exact 4-tuple of the peer's
//! socket (no dump), answered from the kernel's connection hash table. That
//! is O(1) however many sockets the host has, and it returns the live socket
//! for the 4-tuple, never a stale one.
//!
//! Scanning `/proc/net/tcp` instead (what this module used to do, and still
//! does if netlink is unavailable) costs time proportional to every TCP
//! socket on the host (milliseconds once a load test has left thousands in
//! `TIME_WAIT`), and it is not exact: the table is not a snapshot but is
//! produced over several reads while sockets come and go, so an entry can
//! be missed, and entries that are not live connections (`TIME_WAIT`, owned
//! by uid 0) can carry the addresses asked about. Either way a legitimate
//! connection got refused. The fallback therefore only accepts
//! `ESTABLISHED` lines.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

/// The uid owning the socket `peer` → `local`, if it can be found.
///
/// `peer` is the address the connection came from (the other end's local
/// address), `local` the address it was accepted on.
pub fn socket_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    // A v4 client reaching a dual-stack listener shows up as ::ffff:a.b.c.d,
    // but its own socket is an IPv4 one.
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (peer, local) = (canonical(peer), canonical(local));
    match netlink_uid(peer, local) {
        Ok(uid) => uid,
        Err(error) => {
            tracing::debug!(%error, "sock_diag lookup failed; scanning /proc/net/tcp");
            proc_uid(peer, local)
        }
    }
}

// ---- netlink sock_diag ---------------------------------------------------
//
// libc 0.2 has no inet_diag structs, so they are spelled out here as in
// <linux/netlink.h> and <linux/inet_diag.h>. These are stable kernel ABI.

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLMSG_ERROR: u16 = 0x2;
const NLMSG_DONE: u16 = 0x3;
/// `INET_DIAG_NOCOOKIE`: match whatever socket has the 4-tuple.
const NOCOOKIE: u32 = !0;
const TCP_ESTABLISHED: u8 = 1;
const TCP_TIME_WAIT: u8 = 6;
const TCP_LISTEN: u8 = 10;
const TCP_NEW_SYN_RECV: u8 = 12;
/// Every TCP state (`idiag_states` is a bit mask indexed by state).
const ALL_STATES: u32 = !0;

/// `struct nlmsghdr`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

/// `struct inet_diag_sockid`. Ports and addresses are in network byte
/// order; an IPv4 address sits in the first word of its array.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InetDiagSockId {
    sport: u16,
    dport: u16,
    src: [u32; 4],
    dst: [u32; 4],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

/// `struct inet_diag_msg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InetDiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: InetDiagSockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

/// The request as sent: header and body, laid out as the kernel reads it.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Request {
    header: NlMsgHdr,
    body: InetDiagReqV2,
}

const _: () = {
    assert!(std::mem::size_of::<NlMsgHdr>() == 16);
    assert!(std::mem::size_of::<InetDiagSockId>() == 48);
    assert!(std::mem::size_of::<InetDiagReqV2>() == 56);
    assert!(std::mem::size_of::<InetDiagMsg>() == 72);
    assert!(std::mem::size_of::<Request>() == 72);
};

/// Distinguishes our replies from anything else that might be queued.
static SEQ: AtomicU32 = AtomicU32::new(1);

/// An owned file descriptor that closes itself.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: self.0 is a descriptor this struct opened and nothing
        // else closes; closing it once here is sound.
        unsafe { libc::close(self.0) };
    }
}

/// The socket's address and port as `inet_diag_sockid` spells them.
fn diag_addr(addr: SocketAddr) -> (u16, [u32; 4]) {
    let mut words = [0u32; 4];
    match addr.ip() {
        IpAddr::V4(ip) => words[0] = u32::from_ne_bytes(ip.octets()),
        IpAddr::V6(ip) => {
            for (word, chunk) in words.iter_mut().zip(ip.octets().chunks_exact(4)) {
                *word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
    }
    (addr.port().to_be(), words)
}

/// Asks the kernel for the owner of the peer's socket. `Ok(None)` means the
/// kernel answered and has no such live socket; `Err` means netlink itself
/// could not be used and the caller should try another way.
fn netlink_uid(peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
    // SAFETY: socket() takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_SOCK_DIAG) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = Fd(fd);

    // The peer's socket, seen from its own side: its local end is `peer`,
    // its remote end is our listener.
    let (sport, src) = diag_addr(peer);
    let (dport, dst) = diag_addr(local);
    let family = match peer.ip() {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let request = Request {
        header: NlMsgHdr {
            len: std::mem::size_of::<Request>() as u32,
            kind: SOCK_DIAG_BY_FAMILY,
            flags: NLM_F_REQUEST,
            seq,
            pid: 0,
        },
        body: InetDiagReqV2 {
            family: family as u8,
            protocol: libc::IPPROTO_TCP as u8,
            ext: 0,
            pad: 0,
            states: ALL_STATES,
            id: InetDiagSockId { sport, dport, src, dst, interface: 0, cookie: [NOCOOKIE; 2] },
        },
    };
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `request` and `kernel` are live, initialised values and the
    // lengths passed are exactly their sizes; the kernel only reads them.
    let sent = unsafe {
        libc::sendto(
            fd.0,
            (&request as *const Request).cast(),
            std::mem::size_of::<Request>(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    if sent as usize != std::mem::size_of::<Request>() {
        return Err(io::Error::other("short netlink send"));
    }

    // The kernel handles sock_diag requests inside sendto, so the reply is
    // already queued: never block (this runs on an async accept loop).
    let mut buf = [0u64; 1024];
    loop {
        // SAFETY: `buf` is a live, writable buffer of exactly the length
        // given; recv writes at most that many bytes.
        let got = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), std::mem::size_of_val(&buf), libc::MSG_DONTWAIT) };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `buf` is 8 KiB of initialised memory; viewing it as bytes
        // is always valid and `got` is at most its length.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), std::mem::size_of_val(&buf)) };
        let bytes = &bytes[..got as usize];
        if let Some(answer) = parse_reply(bytes, seq, &request.body.id)? {
            return Ok(answer);
        }
    }
}

/// Reads one netlink datagram. `Ok(Some(answer))` once the reply to `seq`
/// is found, `Ok(None)` if the datagram held nothing of ours.
fn parse_reply(mut bytes: &[u8], seq: u32, want: &InetDiagSockId) -> io::Result<Option<Option<u32>>> {
    const HDR: usize = std::mem::size_of::<NlMsgHdr>();
    while bytes.len() >= HDR {
        let header: NlMsgHdr = read_struct(bytes)?;
        let len = header.len as usize;
        if len < HDR || len > bytes.len() {
            return Err(io::Error::other("malformed netlink message"));
        }
        let payload = &bytes[HDR..len];
        if header.seq == seq {
            match header.kind {
                NLMSG_ERROR => {
                    // struct nlmsgerr starts with `int error` (negative errno).
                    let error: i32 = read_struct(payload)?;
                    return match -error {
                        0 => Ok(Some(None)),
                        libc::ENOENT => Ok(Some(None)),
                        errno => Err(io::Error::from_raw_os_error(errno)),
                    };
                }
                NLMSG_DONE => return Ok(Some(None)),
                SOCK_DIAG_BY_FAMILY => {
                    let msg: InetDiagMsg = read_struct(payload)?;
                    return Ok(Some(owner(&msg, want)));
                }
                _ => {}
            }
        }
        // Messages are padded to 4 bytes.
        let next = (len + 3) & !3;
        bytes = bytes.get(next..).unwrap_or(&[]);
    }
    Ok(None)
}

/// The uid of the socket the kernel found, if it really is the peer's end
/// of a connection to us. The kernel's lookup falls back to a listening
/// socket on the peer's address when no connection has the 4-tuple, and a
/// `TIME_WAIT` socket has no owner (it reports uid 0): neither counts.
fn owner(msg: &InetDiagMsg, want: &InetDiagSockId) -> Option<u32> {
    let same =
        msg.id.sport == want.sport && msg.id.dport == want.dport && msg.id.src == want.src && msg.id.dst == want.dst;
    let live = !matches!(msg.state, TCP_TIME_WAIT | TCP_LISTEN | TCP_NEW_SYN_RECV);
    (same && live).then_some(msg.uid)
}

/// Copies a plain-data kernel struct out of the front of `bytes`.
fn read_struct<T: Copy + Default>(bytes: &[u8]) -> io::Result<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return Err(io::Error::other("truncated netlink message"));
    }
    // SAFETY: the length check above guarantees size_of::<T>() readable
    // bytes; read_unaligned copes with any alignment; T is only ever one of
    // the #[repr(C)] integer-only structs above (or an integer), for which
    // every bit pattern is a valid value.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

// ---- /proc/net/tcp fallback ----------------------------------------------

/// Scans `/proc/net/tcp{,6}` for the peer's socket, accepting only an
/// `ESTABLISHED` entry (a `TIME_WAIT` one with the same 4-tuple is owned by
/// uid 0 and is not the connection being asked about).
fn proc_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let table = match peer.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    let (want_local, want_remote) = (encode(peer), encode(local));
    let established = format!("{TCP_ESTABLISHED:02X}");
    text.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let (_slot, l, r, st) = (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
        if l != want_local || r != want_remote || st != established {
            return None;
        }
        // Columns after st: tx:rx, tr:when, retrnsmt, uid.
        cols.nth(3)?.parse().ok()
    })
}

/// The kernel's `/proc/net/tcp` spelling of an address.
fn encode(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), addr.port()),
        IpAddr::V6(ip) => {
            let o = ip.octets();
            let words: String =
                o.chunks(4).map(|c| format!("{:08X}", u32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect();
            format!("{words}:{:04X}", addr.port())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::FromRawFd;
    use std::time::{Duration, Instant};

    fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    #[test]
    fn finds_the_owner_of_a_loopback_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let local = listener.local_addr().unwrap();
        assert_eq!(netlink_uid(peer, local).unwrap(), Some(euid()));
        assert_eq!(socket_uid(peer, local), Some(euid()));
        assert_eq!(proc_uid(peer, local), Some(euid()));
    }

    #[test]
    fn finds_the_owner_over_ipv6_loopback() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        };
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let local = listener.local_addr().unwrap();
        assert_eq!(netlink_uid(peer, local).unwrap(), Some(euid()));
        assert_eq!(proc_uid(peer, local), Some(euid()));
    }

    #[test]
    fn a_missing_connection_has_no_owner() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        // The kernel must answer (Ok), and answer "no such socket".
        assert_eq!(netlink_uid(nobody, local).unwrap(), None);
        assert_eq!(socket_uid(nobody, local), None);
        assert_eq!(proc_uid(nobody, local), None);
        // The listener itself, looked up as if it were a peer, is not one
        // (the kernel's exact lookup falls back to listeners).
        assert_eq!(socket_uid(local, nobody), None);
    }

    #[test]
    fn a_v4_client_of_a_dual_stack_listener_is_found() {
        let Ok(listener) = TcpListener::bind("[::]:0") else { return };
        let port = listener.local_addr().unwrap().port();
        let Ok(client) = TcpStream::connect(("127.0.0.1", port)) else { return };
        let (_server, peer) = listener.accept().unwrap();
        let SocketAddr::V6(mapped) = peer else { return };
        assert!(mapped.ip().to_ipv4_mapped().is_some(), "{peer}");
        assert_eq!(peer.ip().to_canonical(), client.local_addr().unwrap().ip());
        let local: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
        assert_eq!(socket_uid(peer, local), Some(euid()));
    }

    /// A TCP client socket created as `uid` (via this thread's fsuid, which
    /// the kernel stamps on new sockets) with SO_REUSEADDR, bound to `bind`.
    fn client_socket(bind: SocketAddr, uid: u32) -> TcpStream {
        let SocketAddr::V4(bind) = bind else { panic!("v4 only") };
        // SAFETY: setfsuid only changes this thread's filesystem uid (it is
        // a raw syscall in glibc, not broadcast to other threads).
        let old = unsafe { libc::setfsuid(uid) };
        // SAFETY: plain syscall, no pointers.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        // SAFETY: restores the fsuid saved above.
        unsafe { libc::setfsuid(old as u32) };
        assert!(fd >= 0, "{}", io::Error::last_os_error());
        // SAFETY: fd is a fresh socket we own; the TcpStream takes it over
        // and closes it.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: `one` is a live c_int and the length given is its size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: bind.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(bind.ip().octets()) },
            sin_zero: [0; 8],
        };
        // SAFETY: `addr` is a live sockaddr_in and the length is its size.
        let rc = unsafe {
            libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "bind {bind}: {}", io::Error::last_os_error());
        stream
    }

    fn connect(stream: &TcpStream, to: SocketAddr) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let SocketAddr::V4(to) = to else { panic!("v4 only") };
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(to.ip().octets()) },
            sin_zero: [0; 8],
        };
        // SAFETY: `addr` is a live sockaddr_in and the length is its size.
        let rc = unsafe {
            libc::connect(
                stream.as_raw_fd(),
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn proc_states(peer: SocketAddr, local: SocketAddr) -> Vec<String> {
        let (l, r) = (encode(peer), encode(local));
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap()
            .lines()
            .filter(|line| line.contains(&format!("{l} {r}")))
            .map(|line| line.split_whitespace().nth(3).unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_new_connection_reusing_a_time_wait_tuple_is_found() {
        // When running as root, create the new client socket as another
        // user, so it cannot be confused with a TIME_WAIT entry (uid 0).
        let me = euid();
        let new_uid = if me == 0 { 65534 } else { me };

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let first = client_socket("127.0.0.1:0".parse().unwrap(), me);
        connect(&first, local).unwrap();
        let client_addr = first.local_addr().unwrap();
        let (server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client_addr);
        assert_eq!(socket_uid(peer, local), Some(me));

        // The client closes first, so its side (the 4-tuple we look up)
        // ends in TIME_WAIT once the server closes too.
        drop(first);
        std::thread::sleep(Duration::from_millis(20));
        drop(server);
        let deadline = Instant::now() + Duration::from_secs(2);
        while !proc_states(peer, local).iter().any(|st| st == "06") {
            assert!(Instant::now() < deadline, "client side never reached TIME_WAIT");
            std::thread::sleep(Duration::from_millis(10));
        }
        // A TIME_WAIT socket is nobody's connection.
        assert_eq!(netlink_uid(peer, local).unwrap(), None);
        assert_eq!(proc_uid(peer, local), None);

        // Reconnect from the same port. Linux lets a connect reuse a
        // loopback TIME_WAIT 4-tuple (tcp_tw_reuse) once its timestamp is
        // about a second old; retry until it does.
        let deadline = Instant::now() + Duration::from_secs(5);
        let second = loop {
            let s = client_socket(client_addr, new_uid);
            match connect(&s, local) {
                Ok(()) => break s,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("could not reuse {client_addr}: {e}"),
            }
        };
        let (_server2, peer2) = listener.accept().unwrap();
        assert_eq!(peer2, client_addr);
        assert_eq!(second.local_addr().unwrap(), client_addr);
        eprintln!("states for {peer2} -> {local} in /proc/net/tcp: {:?}", proc_states(peer2, local));

        assert_eq!(netlink_uid(peer2, local).unwrap(), Some(new_uid));
        assert_eq!(socket_uid(peer2, local), Some(new_uid));
        assert_eq!(proc_uid(peer2, local), Some(new_uid));
    }

    /// The old scan, as it was: first line with matching addresses, any state.
    fn old_proc_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
        let table = match peer.ip() {
            IpAddr::V4(_) => "/proc/net/tcp",
            IpAddr::V6(_) => "/proc/net/tcp6",
        };
        let text = std::fs::read_to_string(table).ok()?;
        let (want_local, want_remote) = (encode(peer), encode(local));
        text.lines().skip(1).find_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(1) == Some(&want_local.as_str()) && cols.get(2) == Some(&want_remote.as_str()))
                .then(|| cols.get(7)?.parse().ok())
                .flatten()
        })
    }

    /// Timings, printed (run with --nocapture); nothing is asserted on them.
    #[test]
    fn lookup_timings_with_many_sockets() {
        // 2500 idle loopback connections = 5000 extra sockets in the table.
        let idle_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let idle_addr = idle_listener.local_addr().unwrap();
        let mut idle = Vec::new();
        for _ in 0..2500 {
            let c = TcpStream::connect(idle_addr).unwrap();
            let (s, _) = idle_listener.accept().unwrap();
            idle.push((c, s));
        }

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _client = TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        let rows = std::fs::read_to_string("/proc/net/tcp").unwrap().lines().count() - 1;

        // The scans take milliseconds each; fewer of them keep the test quick.
        let time = |n: u32, f: &dyn Fn() -> Option<u32>| {
            assert_eq!(f(), Some(euid()));
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        };
        let netlink = time(1000, &|| netlink_uid(peer, local).ok().flatten());
        let fallback = time(100, &|| proc_uid(peer, local));
        let old = time(100, &|| old_proc_uid(peer, local));
        eprintln!(
            "socket_uid timings, {rows} rows in /proc/net/tcp:\n  \
             netlink sock_diag (1000 lookups): {netlink:.1} µs/lookup\n  \
             /proc/net/tcp scan, fallback, ESTABLISHED only (100 lookups): {fallback:.1} µs/lookup\n  \
             /proc/net/tcp scan, old (100 lookups): {old:.1} µs/lookup"
        );
    }
}
