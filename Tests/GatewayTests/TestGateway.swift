import AccessPolicy
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Hummingbird
import Logging
import NIOEmbedded
import Records
import ServiceLifecycle
import Storage
import StoreSelection
import Synchronization
import VangnetClient
import VangnetCore
import VangnetCrypto
import X509

/// A real gateway for a test: its own development PKI, keys and SQLite database in a temporary
/// directory, a fixed clock and captured logs, its periodic services running. Reached through its
/// router (``Transport/router``, the default: where routing, roles or a pipeline is the subject)
/// or over mTLS on a free loopback port (``Transport/tls``: where TLS or the connection is).
final class TestGateway: Sendable {
    enum Transport: Sendable {
        /// Requests go straight into the gateway's router (``RouterTransport``); no listener.
        case router
        /// The gateway serves mTLS on loopback; clients connect with their certificates.
        case tls
    }

    static let now = Date(timeIntervalSince1970: 1_795_435_200)  // 2026-11-23T12:00:00Z
    static let stranger = OIN("00000099000000000999")!
    /// Has a certificate from the test CA; a test may make it the contactgemeente of region 29 (Rijnmond).
    static let rijnmond = OIN("00000099000000000229")!

    let directory: URL
    let gateway: Gateway
    let port: Int
    let logs: LogCapture
    let transport: Transport
    private let responder: (any HTTPResponder<GatewayRequestContext>)?
    private let certificates = ConnectionCertificates()

    var store: any RecordStore { gateway.store }
    var configurationFile: URL { directory.appendingPathComponent("vangnet.json") }
    var certs: URL { directory.appendingPathComponent("certs") }
    var keys: URL { directory.appendingPathComponent("keys") }

    private init(directory: URL, gateway: Gateway, logs: LogCapture, transport: Transport, port: Int) {
        self.directory = directory
        self.gateway = gateway
        self.logs = logs
        self.transport = transport
        self.port = port
        switch transport {
        case .tls: self.responder = nil
        case .router: self.responder = gateway.router(peerCertificate: certificates.peerCertificate).buildResponder()
        }
    }

    /// Runs `body` against a fresh gateway and tears it down afterwards.
    /// `policy` may change the development policy before the gateway starts (the file is rewritten).
    /// `database` replaces the SQLite file (a `postgres://` URL: several instances may share it).
    /// `settings` may change any other setting, given the test's directory (after the PKI exists);
    /// `configure` the whole configuration (its datasets, for one).
    static func with<R>(
        _ transport: Transport = .router,
        limits: GatewayConfiguration.Limits = .init(),
        policy: ((inout PolicyDocument) -> Void)? = nil,
        database: String? = nil,
        settings: ((inout GatewayConfiguration.Settings, URL) throws -> Void)? = nil,
        configure: ((inout GatewayConfiguration, URL) throws -> Void)? = nil,
        _ body: (TestGateway) async throws -> R
    ) async throws -> R {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-test-\(UUID().uuidString.prefix(8))"
        )
        var configuration = try DevelopmentSetup.create(
            in: directory,
            port: 0,
            extraClients: [
                .init(
                    fileName: "stranger",
                    commonName: "Unknown party",
                    organisation: "Not in the policy (test)",
                    oin: stranger
                ),
                .init(
                    fileName: "region-rijnmond",
                    commonName: "RMC Rijnmond",
                    organisation: "Gemeente Rotterdam (test)",
                    oin: rijnmond
                ),
            ]
        )
        if let policy {
            policy(&configuration.policy)
            let file = directory.appendingPathComponent("vangnet.json")
            try configuration.write(to: file)
            configuration = try GatewayConfiguration.load(from: file)
        }
        // A second, unrelated CA issuing a certificate with DUO's OIN: must be refused at the handshake.
        try DevelopmentPKI.create(
            in: directory.appendingPathComponent("rogue"),
            gatewayOIN: DevelopmentSetup.gatewayOIN,
            clients: [
                .init(
                    fileName: "duo",
                    commonName: "DUO impostor",
                    organisation: "Rogue CA (test)",
                    oin: DevelopmentSetup.duo
                )
            ],
            caName: "Rogue CA"
        )
        configuration.gateway.limits = limits
        if let database { configuration.gateway.database = database }
        try settings?(&configuration.gateway, directory)
        try configure?(&configuration, directory)
        try configuration.write(to: directory.appendingPathComponent("vangnet.json"))
        let logs = LogCapture()
        var logger = Logger(label: "vangnet-test") { _ in CapturingLogHandler(capture: logs) }
        logger.logLevel = .trace
        let gateway = try await Gateway(configuration: configuration, clock: FixedClock(now), logger: logger)
        defer { try? FileManager.default.removeItem(at: directory) }
        func test(on port: Int) -> TestGateway {
            TestGateway(directory: directory, gateway: gateway, logs: logs, transport: transport, port: port)
        }
        switch transport {
        case .tls:
            return try await gateway.serving { port in try await body(test(on: port)) }
        case .router:
            // The periodic services run beside the router as they would beside the listener.
            return try await withServiceGroup(gateway.services(serving: nil), logger: gateway.logger) {
                try await body(test(on: 0))
            }
        }
    }

    /// Runs `body` with another gateway instance from the same configuration file (same keys,
    /// policy and database) serving on its own port, which `body` gets.
    func withAnotherInstance<R>(_ body: (_ port: Int) async throws -> R) async throws -> R {
        let configuration = try GatewayConfiguration.load(from: configurationFile)
        let another = try await Gateway(
            configuration: configuration,
            clock: FixedClock(Self.now),
            logger: Logger(label: "vangnet-test-2") { [logs] _ in CapturingLogHandler(capture: logs) }
        )
        return try await another.serving(body)
    }

    /// An mTLS client holding the certificate `<name>.pem` (`nil`: no certificate) of `pki`.
    func client(_ name: String?, pki: String = "certs", port: Int? = nil) throws -> GatewayClient {
        let dir = directory.appendingPathComponent(pki)
        if let responder, port == nil {
            // Only TLS verifies the chain: a certificate of another CA is a test for `.tls`.
            guard pki == "certs" else {
                throw TestFailure("a certificate of the \(pki) PKI needs TestGateway.with(.tls)")
            }
            let channel = NIOAsyncTestingChannel()
            if let name {
                let pem = try String(contentsOf: dir.appendingPathComponent("\(name).pem"), encoding: .utf8)
                certificates.attach(try Certificate(pemEncoded: pem), to: channel)
            }
            return GatewayClient(
                transport: RouterTransport(responder: responder, channel: channel, logger: gateway.logger)
            )
        }
        return try GatewayClient(
            baseURL: "https://127.0.0.1:\(port ?? self.port)",
            certificate: name.map { dir.appendingPathComponent("\($0).pem") },
            privateKey: name.map { dir.appendingPathComponent("\($0).key") },
            trustedCA: certs.appendingPathComponent("ca.pem")
        )
    }

    /// Calls `body` with a client and shuts it down afterwards.
    func using<R>(_ name: String?, pki: String = "certs", _ body: (GatewayClient) async throws -> R) async throws -> R {
        try await client(name, pki: pki).shuttingDown(after: body)
    }

    /// The signing key of source `name` (`duo`, `uwv`).
    func signingKey(_ name: String) throws -> SigningKeyPair {
        try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("\(name)-signing.key")))
    }

    var gatewayBoxKey: BoxPublicKey {
        get throws { try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub"))) }
    }
    var gatewaySigningKey: SigningPublicKey {
        get throws {
            try SigningPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-signing.pub")))
        }
    }

    /// Seals NDJSON `lines` as a batch of `source` (`duo`, `uwv`, `mbo-utrecht`, `mbo-amsterdam`).
    func seal(
        _ lines: [String],
        as source: String,
        signedBy signer: String? = nil,
        sourceOIN: OIN? = nil,
        batchId: BatchID = BatchID(),
        createdAt: Date = now,
        recordCount: Int? = nil
    ) throws -> [UInt8] {
        let known = DevelopmentSetup.sources[source]!
        let (oin, dataset) = (sourceOIN ?? known.oin, known.dataset)
        return try EnvelopeSealer(
            source: oin,
            signingKey: signingKey(signer ?? source),
            recipient: gatewayBoxKey,
            chunkSize: 4096
        )
        .seal(
            payload: Array((lines.joined(separator: "\n") + "\n").utf8),
            batchId: batchId,
            dataset: dataset,
            createdAt: createdAt,
            recordCount: recordCount ?? lines.count
        )
    }

    /// The bytes of the SQLite database, its WAL and shared-memory files.
    func databaseFiles() throws -> [(String, Data)] {
        let base = directory.appendingPathComponent("vangnet.sqlite").path
        return try [base, base + "-wal", base + "-shm"].filter { FileManager.default.fileExists(atPath: $0) }.map {
            ($0, try Data(contentsOf: URL(fileURLWithPath: $0)))
        }
    }
}

/// A test's own precondition failed (not the gateway's behaviour).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Waits until `condition` holds, checking every 100 ms for at most 10 s; whether it came to hold.
func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<100 {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// Every log line the gateway wrote, message and metadata, as text.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        capture.append("\(level) \(message) \(self.metadata.merging(explicit ?? [:]) { $1 })")
    }
}

extension RecordStore {
    /// Raw SQL on the store under test, past its invariants (``StoreTampering``, which both stores
    /// have and the gateway never sees).
    func tamper(_ sql: String) async throws {
        guard let store = self as? any StoreTampering else {
            throw StoreError("\(type(of: self)) cannot be tampered with")
        }
        try await store.uncheckedExecute(sql)
    }
}
