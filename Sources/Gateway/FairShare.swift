import Synchronization
import VangnetCore

/// Who may run delivery work (a page of records) now: a fixed number of slots shared between
/// callers so that each gets a fair share of the work, not only of the requests.
///
/// Rules: one caller holds at most `slots - 1` slots, so another caller always finds one free
/// (one region's parallel heavy pulls cannot make another wait); when a slot frees up, the
/// waiting request whose caller runs the fewest now goes first, oldest first among equals
/// (max-min fairness). A plain value: decisions are returned, not carried out, and tested
/// without a network.
struct FairShareState {
    /// What a request is told.
    enum Decision: Equatable {
        case run
        /// Wait until `ticket` is handed back by ``finish(_:)``.
        case wait(ticket: UInt64)
    }

    let slots: Int
    private var running: [OIN: Int] = [:]
    private var busy = 0
    private var waiting: [(caller: OIN, ticket: UInt64)] = []
    private var nextTicket: UInt64 = 0

    init(slots: Int) {
        precondition(slots >= 2, "one slot must stay free for another caller")
        self.slots = slots
    }

    private var perCaller: Int { slots - 1 }

    private func mayRun(_ caller: OIN) -> Bool { busy < slots && running[caller, default: 0] < perCaller }

    mutating func request(_ caller: OIN) -> Decision {
        if mayRun(caller), !waiting.contains(where: { mayRun($0.caller) }) {
            start(caller)
            return .run
        }
        nextTicket += 1
        waiting.append((caller, nextTicket))
        return .wait(ticket: nextTicket)
    }

    /// `caller`'s work ended; returns the tickets that may run now, in order.
    mutating func finish(_ caller: OIN) -> [UInt64] {
        busy -= 1
        running[caller, default: 1] -= 1
        if running[caller] == 0 { running[caller] = nil }
        var admitted: [UInt64] = []
        while let index = nextWaiting() {
            let next = waiting.remove(at: index)
            start(next.caller)
            admitted.append(next.ticket)
        }
        return admitted
    }

    func isWaiting(_ ticket: UInt64) -> Bool { waiting.contains { $0.ticket == ticket } }

    private mutating func start(_ caller: OIN) {
        busy += 1
        running[caller, default: 0] += 1
    }

    /// The waiting request to run next: among those allowed to run, the one whose caller runs
    /// the fewest, then the oldest.
    private func nextWaiting() -> Int? {
        waiting.indices.filter { mayRun(waiting[$0].caller) }
            .min { (running[waiting[$0].caller, default: 0], waiting[$0].ticket) < (running[waiting[$1].caller, default: 0], waiting[$1].ticket) }
    }
}

/// The gateway's delivery slots (``FairShareState``), with the waiting requests suspended until
/// their turn.
final class FairShare: Sendable {
    private struct Shared {
        var state: FairShareState
        var continuations: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let shared: Mutex<Shared>

    init(slots: Int) { shared = Mutex(Shared(state: FairShareState(slots: slots))) }

    /// Runs `work` for `caller` when its turn comes.
    func run<T>(for caller: OIN, _ work: () async throws -> T) async throws -> T {
        let decision = shared.withLock { $0.state.request(caller) }
        if case .wait(let ticket) = decision {
            await withCheckedContinuation { continuation in
                shared.withLock { shared in
                    // Granted before the continuation was stored: finish() found none to resume.
                    if !shared.state.isWaiting(ticket) {
                        continuation.resume()
                    } else {
                        shared.continuations[ticket] = continuation
                    }
                }
            }
        }
        defer {
            let admitted = shared.withLock { shared in
                shared.state.finish(caller).compactMap { shared.continuations.removeValue(forKey: $0) }
            }
            for continuation in admitted { continuation.resume() }
        }
        return try await work()
    }
}

