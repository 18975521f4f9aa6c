import AccessPolicy
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import NIOCore
import Records
import Storage
import StoreSelection
import Synchronization
import Testing
import VangnetCore
import VangnetCrypto

/// A clock the test moves on.
final class SteppingClock: WallClock {
    private let instant: Mutex<Date>
    init(_ start: Date) { instant = Mutex(start) }
    func now() -> Date { instant.withLock { $0 } }
    func advance(days: Int) { instant.withLock { $0 = $0.addingTimeInterval(Double(days) * 86_400) } }
}

/// The promise of delivery to a region: a copy fed only by changes is the current picture, and
/// the picture kept step by step is the one the rules give from scratch.
///
/// Random sequences of DUO and UWV batches (complete pictures and changes with withdrawals),
/// people moving between regions, days passing (ages, month windows, retention) and purges; after
/// every step each region's mirror of each purpose, kept by pulling changes from its cursor in
/// small pages, equals the current picture pulled fresh; and recomputing every person's deliveries
/// from their current records (the rules under another version name) changes nothing, so what the
/// index kept incrementally (commits, rechecks, purges) is what the policy says. On SQLite, and on PostgreSQL when one is
/// configured. `VANGNET_PROPERTY_STEPS` and `VANGNET_PROPERTY_SEEDS` make the run longer.
@Suite struct DeliveryPropertyTests {
    static let steps = Int(ProcessInfo.processInfo.environment["VANGNET_PROPERTY_STEPS"] ?? "") ?? 14
    static let seeds = (1...(UInt64(ProcessInfo.processInfo.environment["VANGNET_PROPERTY_SEEDS"] ?? "") ?? 2)).map {
        $0
    }

    enum Store: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// PostgreSQL's cases where a server is configured (or required).
    static var cases: [(Store, UInt64)] {
        Store.allCases.filter { $0 != .postgres || SharedPostgresTests.configured }.flatMap { store in
            seeds.map { (store, $0) }
        }
    }

    /// Reported as skipped without a server, so a run on SQLite alone never looks like a run on both.
    @Test(
        .disabled(
            if: !SharedPostgresTests.configured,
            "no PostgreSQL server (VANGNET_POSTGRES_URL is not set): the property ran on SQLite only"
        )
    )
    func thePropertyRunsOnPostgreSQLToo() {
        do {
            let holds = Self.cases.contains { $0.0 == .postgres }
            #expect(holds)
        }
    }

    @Test(arguments: cases)
    func aMirrorFedOnlyByChangesIsTheCurrentPicture(store: Store, seed: UInt64) async throws {
        var database: String?
        if store == .postgres {
            guard let url = try await SharedPostgresTests.database() else { return }
            database = url
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-property-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        if let database { configuration.gateway.database = database }
        try configuration.write(to: directory.appendingPathComponent("vangnet.json"))
        let clock = SteppingClock(TestGateway.now)
        let gateway = try await Gateway(configuration: configuration, clock: clock)
        var world = World(seed: seed)
        let keys = directory.appendingPathComponent("keys")
        let box = try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
        func signer(_ name: String) throws -> SigningKeyPair {
            try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("\(name)-signing.key")))
        }
        func organisation(_ oin: OIN) throws -> Caller.Consumer {
            guard case .permit(.consumer(let org)) = gateway.policy.identify(oin) else {
                throw ConfigurationError("\(oin) is not a known consumer")
            }
            return org
        }
        func sourceCaller(_ oin: OIN) throws -> Caller.Source {
            guard case .permit(.source(let org)) = gateway.policy.identify(oin) else {
                throw ConfigurationError("\(oin) is not a known source")
            }
            return org
        }
        let consumers = [
            (DevelopmentSetup.regionUtrecht, ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"]),
            (DevelopmentSetup.regionAmsterdam, ["vsv-opvolging", "vsv-een-jaar-later"]),
        ]
        var mirrors: [String: (cursor: String, records: [String: String])] = [:]

        /// The current picture, pulled fresh in pages of 5.
        func picture(
            _ consumer: Caller.Consumer,
            _ purpose: PurposeID
        ) async throws -> (records: [String: String], cursor: String) {
            var records: [String: String] = [:]
            var cursor: String?
            while true {
                let page = try await gateway.delivery.pull(
                    caller: consumer,
                    purpose: purpose,
                    view: cursor == nil ? .current : nil,
                    cursor: cursor,
                    limit: 5
                )
                for line in page.lines {
                    #expect(records[line.id] == nil, "an identifier twice in one snapshot")
                    records[line.id] = line.record
                }
                cursor = page.nextCursor
                if page.complete { return (records, page.nextCursor) }
            }
        }

        /// Applies the changes since the mirror's cursor, in pages of 7.
        func follow(
            _ consumer: Caller.Consumer,
            _ purpose: PurposeID,
            _ mirror: inout (cursor: String, records: [String: String])
        ) async throws {
            while true {
                let page = try await gateway.delivery.pull(
                    caller: consumer,
                    purpose: purpose,
                    view: .changes,
                    cursor: mirror.cursor,
                    limit: 7
                )
                for line in page.lines { mirror.records[line.id] = line.record }
                mirror.cursor = page.nextCursor
                if page.lines.isEmpty { return }
            }
        }

        for step in 0...Self.steps {
            let action = step == 0 ? World.Action.duoFull : world.nextAction()
            switch action {
            case .duoFull, .duoChanges, .uwvFull, .uwvChanges:
                let (source, lines, mode) = world.batch(action, today: CalendarDate.inAmsterdam(clock.now()))
                let dataset: DatasetID = source == "duo" ? "duo.onderwijsdeelname" : "uwv.inkomstenverhoudingen"
                let envelope = try EnvelopeSealer(
                    source: source == "duo" ? DevelopmentSetup.duo : DevelopmentSetup.uwv,
                    signingKey: signer(source),
                    recipient: box
                )
                .seal(
                    payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                    batchId: BatchID(),
                    dataset: dataset,
                    createdAt: clock.now(),
                    recordCount: lines.count,
                    mode: mode
                )
                let outcome = try await gateway.ingest.ingest(
                    SlowBody(parts: [envelope], pause: .zero),
                    caller: sourceCaller(source == "duo" ? DevelopmentSetup.duo : DevelopmentSetup.uwv)
                )
                guard case .committed(let receipt) = outcome else {
                    Issue.record("step \(step): not committed")
                    return
                }
                let body = try receipt.verified(
                    with: SigningPublicKey(
                        bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-signing.pub"))
                    )
                )
                let reasons = body.rejections.map(\.reason.rawValue)
                #expect(body.rejected == 0, "step \(step): \(reasons)")
            case .days(let n):
                clock.advance(days: n)
            case .purge:
                try await gateway.purgeExpiredRecords()
            }
            // The index as kept equals the index rebuilt from the current records: a rebuild writes nothing.
            let rules = PolicyDeliveryRules(policy: gateway.policy, pseudonymiser: gateway.state.current.pseudonymiser)
            let today = CalendarDate.inAmsterdam(clock.now())
            // (First to today, as the next pull would; then from scratch.)
            _ = try await gateway.store.maintainDeliveries(rules: rules, day: today, now: clock.now())
            let rebuilt = try await gateway.store.maintainDeliveries(
                rules: Renamed(inner: rules),
                day: today,
                now: clock.now()
            )
            #expect(
                rebuilt.rebuilt && rebuilt.versions == 0,
                "seed \(seed) step \(step) (\(action)): a rebuild wrote \(rebuilt.versions) versions"
            )
            _ = try await gateway.store.maintainDeliveries(rules: rules, day: today, now: clock.now())
            if rebuilt.versions != 0 { return }
            for (oin, purposes) in consumers {
                let consumer = try organisation(oin)
                for purpose in purposes.map({ PurposeID($0) }) {
                    let key = "\(oin)/\(purpose)"
                    var mirror: (cursor: String, records: [String: String])
                    if let known = mirrors[key] {
                        mirror = known
                        try await follow(consumer, purpose, &mirror)
                    } else {
                        let first = try await picture(consumer, purpose)
                        mirror = (first.cursor, first.records)
                    }
                    mirrors[key] = mirror
                    let now = try await picture(consumer, purpose).records
                    let same = now == mirror.records
                    #expect(
                        same,
                        "seed \(seed) step \(step) (\(action)) \(key): mirror \(mirror.records.count) records, picture \(now.count)"
                    )
                    if !same { return }
                }
            }
        }
        // The walk reached people in populations: the property was not vacuous.
        do {
            let holds = mirrors.values.contains { !$0.records.isEmpty }
            #expect(holds)
        }
    }

    /// The sources' side of the random walk: who exists, where they live, what DUO and UWV last said.
    struct World {
        enum Action: CustomStringConvertible {
            case duoFull, duoChanges, uwvFull, uwvChanges
            case days(Int)
            case purge
            var description: String {
                switch self {
                case .duoFull: "DUO complete picture"
                case .duoChanges: "DUO changes"
                case .uwvFull: "UWV complete picture"
                case .uwvChanges: "UWV changes"
                case .days(let n): "\(n) days pass"
                case .purge: "purge"
                }
            }
        }

        var rng: SplitMix
        var people: [SyntheticRecords.Person] = []
        /// The records each source holds now, by key text (what the next complete picture repeats).
        var duo: [String: String] = [:]
        var uwv: [String: String] = [:]
        static let municipalities = ["GM0344", "GM0355", "GM0363", "GM0362", "GM0599"]

        init(seed: UInt64) {
            rng = SplitMix(seed: seed)
            var synth = SyntheticRecords(seed: seed)
            // Born 14 to 27 years before the test day: some age out of the programme as days pass.
            people = (0..<24).map { i in
                let birth = CalendarDate(year: 1999 + i % 14, month: 1 + i % 12, day: 1 + (i * 7) % 28)!
                return SyntheticRecords.Person(
                    bsn: synth.bsn(),
                    municipality: MunicipalityCode(Self.municipalities[i % 5])!,
                    birthDate: birth
                )
            }
        }

        mutating func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }

        mutating func nextAction() -> Action {
            switch rng.next() % 9 {
            case 0, 1: .duoFull
            case 2, 3: .duoChanges
            case 4: .uwvFull
            case 5: .uwvChanges
            case 6, 7: .days(Int(1 + rng.next() % 120))
            default: .purge
            }
        }

        mutating func duoLine(_ p: SyntheticRecords.Person, today: CalendarDate) -> (key: String, line: String) {
            let enrolled = pick(["2023-08-21", "2024-08-19"])
            let leaver = rng.next() % 3 != 0
            let left = today.adding(days: -Int(rng.next() % 700))
            let sort = pick(["mbo", "vo", "pro", "vso"])
            let municipality = pick(Self.municipalities)
            var line =
                #"{"bsn":"\#(p.bsn)","geboortedatum":"\#(p.birthDate)","gemeentecode":"\#(municipality)","brin":"25LP","onderwijssoort":"\#(sort)""#
            if sort == "mbo" { line += #","niveau":"\#(pick(["entree", "2", "4"]))""# }
            line += #","inschrijvingsdatum":"\#(enrolled)""#
            if leaver { line += #","uitschrijvingsdatum":"\#(left)""# }
            line += #","diploma":false,"startkwalificatie":\#(!leaver),"vsv":\#(leaver)}"#
            return ("\(p.bsn)/\(enrolled)", line)
        }

        mutating func uwvLine(_ p: SyntheticRecords.Person, today: CalendarDate) -> (key: String, line: String) {
            let month = today.adding(days: -30 * Int(rng.next() % 5))
            let periode = String(month.description.prefix(7))
            let kind = pick(["dienstverband", "WW"])
            let line =
                #"{"bsn":"\#(p.bsn)","gemeentecode":"\#(pick(Self.municipalities))","periode":"\#(periode)","soort":"\#(kind)","startdatum":"2025-06-01"}"#
            return ("\(p.bsn)/\(periode)/\(kind)", line)
        }

        static func withdrawal(_ key: String, source: String) -> String {
            let parts = key.split(separator: "/").map(String.init)
            return source == "duo"
                ? #"{"bsn":"\#(parts[0])","brin":"25LP","inschrijvingsdatum":"\#(parts[1])","withdrawn":true}"#
                : #"{"bsn":"\#(parts[0])","periode":"\#(parts[1])","soort":"\#(parts[2])","startdatum":"2025-06-01","withdrawn":true}"#
        }

        /// A batch for `action`, with the source's records updated to what it states.
        mutating func batch(_ action: Action, today: CalendarDate) -> (source: String, lines: [String], mode: BatchMode)
        {
            switch action {
            case .duoFull, .uwvFull:
                let isDUO = if case .duoFull = action { true } else { false }
                var held = isDUO ? duo : uwv
                // Some records go, some change, some are new; the rest are repeated as they are.
                for key in held.keys.sorted() where rng.next() % 5 == 0 { held[key] = nil }
                for p in people where rng.next() % 3 == 0 {
                    let (key, line) = isDUO ? duoLine(p, today: today) : uwvLine(p, today: today)
                    held[key] = line
                }
                if isDUO { duo = held } else { uwv = held }
                return (isDUO ? "duo" : "uwv", held.keys.sorted().map { held[$0]! }, .full)
            case .duoChanges, .uwvChanges:
                let isDUO = if case .duoChanges = action { true } else { false }
                var held = isDUO ? duo : uwv
                var lines: [String] = []
                var touched = Set<String>()
                for key in held.keys.sorted() where rng.next() % 4 == 0 {
                    lines.append(Self.withdrawal(key, source: isDUO ? "duo" : "uwv"))
                    held[key] = nil
                    touched.insert(key)
                }
                for p in people where rng.next() % 4 == 0 {
                    let (key, line) = isDUO ? duoLine(p, today: today) : uwvLine(p, today: today)
                    guard touched.insert(key).inserted else { continue }
                    held[key] = line
                    lines.append(line)
                }
                if lines.isEmpty, let p = people.first {
                    let (key, line) = isDUO ? duoLine(p, today: today) : uwvLine(p, today: today)
                    held[key] = line
                    lines.append(line)
                }
                if isDUO { duo = held } else { uwv = held }
                return (isDUO ? "duo" : "uwv", lines, .changes)
            case .days, .purge:
                preconditionFailure("not a batch")
            }
        }
    }
}

/// The same rules under another version name: the store rebuilds its index with them.
struct Renamed: DeliveryRules {
    let inner: PolicyDeliveryRules
    var version: String { inner.version + "/rebuild-check" }
    func deliveries(
        of records: [CurrentRecord],
        on day: CalendarDate
    ) -> (items: [DeliveryItem], recheck: CalendarDate?) {
        inner.deliveries(of: records, on: day)
    }
}

/// A small deterministic generator for the random walk.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
