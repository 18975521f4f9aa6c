import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Silent TCP connections that never send a ClientHello, from several loopback addresses
/// (127.0.0.2, 127.0.0.3, ...), held open and each reopened `renewAfter` after the gateway
/// closed it: the attacker of the lock-out finding. Runs on a thread of its own (never on the
/// cooperative pool, which the gateway under test needs).
final class SilentFlood: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let openedCount = Atomic<Int>(0)
    private let closedCount = Atomic<Int>(0)
    private let finished = Mutex<Bool>(false)

    /// Connections opened so far, and those the gateway closed.
    var opened: Int { openedCount.load(ordering: .relaxed) }
    var closedByGateway: Int { closedCount.load(ordering: .relaxed) }

    init(port: Int, addresses: Int, perAddress: Int, renewAfter: Duration = .seconds(1)) {
        let thread = Thread { [self] in
            run(port: port, addresses: addresses, perAddress: perAddress, renewAfter: renewAfter)
            finished.withLock { $0 = true }
        }
        thread.start()
    }

    /// Stops the flood and closes its connections.
    func stop() async {
        stopped.store(true, ordering: .relaxed)
        while !finished.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(20)) }
    }

    private func run(port: Int, addresses: Int, perAddress: Int, renewAfter: Duration) {
        let slots = addresses * perAddress
        var sockets = [Int32](repeating: -1, count: slots)
        var closedAt = [ContinuousClock.Instant?](repeating: nil, count: slots)
        defer { for socket in sockets where socket >= 0 { close(socket) } }
        while !stopped.load(ordering: .relaxed) {
            let now = ContinuousClock.now
            for slot in 0..<slots where sockets[slot] < 0 && (closedAt[slot].map { now - $0 >= renewAfter } ?? true) {
                sockets[slot] = Self.connect(port: port, from: "127.0.0.\(2 + slot / perAddress)")
                if sockets[slot] >= 0 { openedCount.add(1, ordering: .relaxed) } else { closedAt[slot] = now }
            }
            var polls = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polls, nfds_t(polls.count), 10) > 0 else { continue }
            for slot in 0..<slots where sockets[slot] >= 0 && polls[slot].revents != 0 {
                close(sockets[slot])
                sockets[slot] = -1
                closedAt[slot] = ContinuousClock.now
                closedCount.add(1, ordering: .relaxed)
            }
        }
    }

    /// A non-blocking connection from `source` to 127.0.0.1:`port`, or -1.
    static func connect(port: Int, from source: String) -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { return -1 }
        func address(_ host: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            return address
        }
        var local = address(source, 0)
        var remote = address("127.0.0.1", port)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, size) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, size) }
        }
        guard bound == 0, connected == 0 || errno == EINPROGRESS else {
            close(socket)
            return -1
        }
        return socket
    }
}
