import AccessPolicy
import AuditLog
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Pseudonymisation
import Records
import Storage
import VangnetCore

/// A configured gateway: policy, keys, store and pipelines, and the HTTPS application serving them.
///
/// `run()` serves until cancelled (or, through ``runUntilSignalled()``, until SIGTERM/SIGINT).
public struct Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let policy: Policy
    public let keys: GatewayKeys
    public let store: SQLiteStore
    public let ingest: IngestPipeline
    public let delivery: DeliveryPipeline
    let clock: any WallClock
    let logger: Logger

    /// Checks the configuration, loads keys and opens the store. Fails with a message that says
    /// what to fix; records a `config.load` audit event with the policy fingerprint.
    public init(configuration: GatewayConfiguration, clock: any WallClock = SystemClock(), logger: Logger = Logger(label: "vangnet")) throws {
        let policy: Policy
        do { policy = try Policy(document: configuration.policy) } catch let error as PolicyError {
            throw ConfigurationError(error.description)
        }
        let keys = try GatewayKeys.load(from: configuration.resolve(configuration.gateway.keyDirectory))
        let store = try SQLiteStore(path: configuration.resolve(configuration.gateway.database).path)
        let interrupted = try store.discardInterruptedBatches()
        let pseudonymiser = Pseudonymiser(keys: try PseudonymKeys(root: keys.pseudonymRoot, epoch: configuration.gateway.pseudonymEpoch))
        self.configuration = configuration
        self.policy = policy
        self.keys = keys
        self.store = store
        self.clock = clock
        self.logger = logger
        self.ingest = IngestPipeline(policy: policy, keys: keys, pseudonymiser: pseudonymiser, store: store,
                                     limits: configuration.gateway.limits, clock: clock, reference: .embedded)
        self.delivery = DeliveryPipeline(policy: policy, pseudonymiser: pseudonymiser, store: store, clock: clock,
                                         maxPageSize: configuration.gateway.limits.maxPageSize)
        try store.appendAudit(AuditEvent(time: clock.now(), actor: configuration.gateway.oin, role: nil, action: .configLoad,
                                         object: "policy:\(policy.fingerprint)", outcome: .success,
                                         counts: ["organisations": policy.document.organisations.count, "purposes": policy.document.purposes.count,
                                                  "interruptedBatchesDiscarded": interrupted]))
    }

    /// The TLS settings: TLS 1.3 only, client certificate required and verified against the CA.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let tls = configuration.gateway.tls
        var config = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try NIOSSLCertificate.fromPEMFile(configuration.resolve(tls.certificate).path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: configuration.resolve(tls.privateKey).path, format: .pem)),
            trustRoots: .file(configuration.resolve(tls.clientCA).path)
        )
        config.minimumTLSVersion = .tlsv13
        return config
    }

    /// The HTTPS application. `onServerRunning` receives the bound port (useful with port 0).
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let router = Router(context: GatewayRequestContext.self)
        addRoutes(to: router)
        let listen = configuration.gateway.listen
        return Application(
            router: router,
            server: try .tls(.http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.gateway.limits.idleTimeoutSeconds)))),
                             tlsConfiguration: tlsConfiguration()),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "vangnet"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger
        )
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    public func runUntilSignalled(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onServerRunning: onServerRunning).runService()
    }
}
