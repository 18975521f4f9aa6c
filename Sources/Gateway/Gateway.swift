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
import ServiceLifecycle
import Storage
import VangnetCore

/// A configured gateway: policy, keys, store and pipelines, and the HTTPS application serving them.
///
/// `run()` serves until cancelled (or, through ``runUntilSignalled()``, until SIGTERM/SIGINT).
/// ``reload()`` takes a changed policy or key epoch into use without a restart.
package struct Gateway: Sendable {
    /// The configuration the gateway started with (listener, TLS, store and limits come from it).
    package let configuration: GatewayConfiguration
    package let state: GatewayState
    package let keys: GatewayKeys
    package let store: any RecordStore
    package let ingest: IngestPipeline
    package let delivery: DeliveryPipeline
    package let reidentification: ReidentificationPipeline
    package let metrics: GatewayMetrics
    /// The client CA's revocation list in force (``Revocation/none`` without `tls.crl`).
    package let revocation: Revocation
    let connections: ConnectionTable
    let rateLimiter: RequestRateLimiter
    let refusals: RefusalSummary
    let collections = CollectionWatch()
    let clock: any WallClock
    package let logger: Logger

    /// The policy in force now.
    package var policy: Policy { state.current.policy }

    /// Checks the configuration, loads keys and opens the store with `openingStore`. Fails with
    /// a message that says what to fix; records a `config.load` audit event with the policy
    /// fingerprint.
    ///
    /// With PostgreSQL, several instances may share the database: staging areas left by an
    /// instance that stopped are dropped, those of running instances are left alone.
    package init(
        configuration: GatewayConfiguration,
        openingStore: StoreOpener,
        clock: any WallClock = SystemClock(),
        logger: Logger = Logger(label: "vangnet")
    ) async throws {
        let keyDirectory = configuration.resolve(configuration.gateway.keyDirectory)
        let keys = try GatewayKeys.load(from: keyDirectory)
        let active = try Self.activate(configuration, keys: keys)
        let revocation = try Self.loadRevocation(configuration)
        let store = try await openingStore(
            AuditSigning(key: keys.audit, every: configuration.gateway.audit.checkpointEvery)
        )
        let head = AuditHead.file(configuration)
        do {
            try await AuditHead.check(head, store: store, key: keys.audit.publicKey)
            let interrupted = try await store.discardInterruptedBatches()
            try await store.appendAudit(
                Self.loadEvent(
                    active,
                    actor: configuration.gateway.oin,
                    at: clock.now(),
                    extra: ["interruptedBatchesDiscarded": interrupted]
                )
            )
            // A checkpoint at start: the head this start reached is signed and kept outside the store.
            if let checkpoint = try await store.checkpointAudit(at: clock.now()) {
                try AuditHead.write(checkpoint, to: head)
            }
        } catch {
            await store.close()
            throw error
        }
        let state = GatewayState(active)
        self.configuration = configuration
        self.state = state
        self.keys = keys
        self.revocation = revocation
        self.store = store
        self.clock = clock
        self.logger = logger
        let metrics = GatewayMetrics()
        self.metrics = metrics
        let limits = configuration.gateway.limits
        self.connections = ConnectionTable(
            maximumHandshakes: limits.maxHandshakes,
            maximumAuthenticated: limits.maxConnections,
            maximumPerAddress: limits.maxConnectionsPerAddress
        )
        self.rateLimiter = RequestRateLimiter(requestsPerMinute: limits.requestsPerMinute)
        self.refusals = RefusalSummary(metrics: metrics)
        let keeper = DeliveryKeeper()
        self.ingest = IngestPipeline(
            state: state,
            keys: keys,
            store: store,
            limits: configuration.gateway.limits,
            clock: clock,
            reference: .embedded,
            metrics: metrics,
            keeper: keeper
        )
        self.reidentification = ReidentificationPipeline(state: state, store: store, clock: clock, keeper: keeper)
        self.delivery = DeliveryPipeline(
            state: state,
            store: store,
            clock: clock,
            maxPageSize: configuration.gateway.limits.maxPageSize,
            metrics: metrics,
            keeper: keeper,
            collections: collections
        )
    }

    /// The configured CRL, checked against the client CA; none without `tls.crl`.
    static func loadRevocation(_ configuration: GatewayConfiguration) throws -> Revocation {
        guard let crl = configuration.gateway.tls.crl else { return .none }
        do {
            return try Revocation.load(
                file: configuration.resolve(crl),
                clientCA: configuration.resolve(configuration.gateway.tls.clientCA),
                failClosed: configuration.gateway.tls.crlFailClosed ?? false
            )
        } catch {
            throw ConfigurationError("gateway.tls.crl: \(error)")
        }
    }

    /// The policy and pseudonymiser a configuration asks for, checked.
    static func activate(_ configuration: GatewayConfiguration, keys: GatewayKeys) throws -> ActivePolicy {
        let policy: Policy
        let datasets = try configuration.loadDatasets()
        do { policy = try Policy(document: configuration.policy, datasets: datasets) } catch let error as PolicyError {
            throw ConfigurationError(
                "the policy has \(error.errors.count) problem(s) (vangnet policy check shows them all):\n"
                    + configuration.describe(error.errors).joined(separator: "\n")
            )
        }
        let pseudonymiser = try keys.pseudonymiser(
            currentEpoch: configuration.gateway.pseudonymEpoch,
            directory: configuration.resolve(configuration.gateway.keyDirectory)
        )
        return ActivePolicy(policy: policy, pseudonymiser: pseudonymiser, identities: try keys.identityVault())
    }

    static func loadEvent(_ active: ActivePolicy, actor: OIN, at time: Date, extra: [String: Int] = [:]) -> AuditEvent {
        AuditEvent(
            time: time,
            actor: actor,
            role: nil,
            action: .configLoad,
            object: "policy:\(active.policy.fingerprint)",
            outcome: .success,
            counts: [
                "organisations": active.policy.document.organisations.count,
                "purposes": active.policy.document.purposes.count,
                "datasets": active.policy.datasets.count,
                "pseudonymEpoch": Int(active.pseudonymiser.epoch),
                "reidentificationEpoch": Int(active.identities?.epoch ?? 0),
            ].merging(extra) { $1 }
        )
    }

    /// Re-reads the configuration file and takes its policy and pseudonym epoch into use, for the
    /// requests that start after it. Checked first: a configuration with problems is refused and
    /// the policy in force stays. Both outcomes are audited (with the policy's fingerprint), and
    /// the new policy takes effect only once its audit entry is written.
    ///
    /// Other settings (listener, TLS files, database, limits) take a restart.
    /// - Returns: the policy now in force.
    @discardableResult
    package func reload() async throws -> ActivePolicy {
        guard let file = configuration.file else {
            throw ConfigurationError("the gateway was not started from a configuration file")
        }
        let previous = state.current
        let active: ActivePolicy
        do {
            let changed = try GatewayConfiguration.load(from: file)
            let directory = changed.resolve(changed.gateway.keyDirectory)
            active = try Self.activate(
                changed,
                keys: GatewayKeys(
                    signing: keys.signing,
                    box: keys.box,
                    audit: keys.audit,
                    pseudonymRoots: try GatewayKeys.loadPseudonymRoots(from: directory),
                    identityRoots: try GatewayKeys.loadIdentityRoots(from: directory)
                )
            )
        } catch {
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: configuration.gateway.oin,
                    role: nil,
                    action: .configLoad,
                    object: "policy:\(previous.policy.fingerprint)",
                    outcome: .refused,
                    reason: "invalid_configuration"
                )
            )
            logger.error(
                "reload refused; the policy in force stays",
                metadata: ["policy": "\(previous.policy.fingerprint)"]
            )
            throw error
        }
        try await store.appendAudit(Self.loadEvent(active, actor: configuration.gateway.oin, at: clock.now()))
        if active.pseudonymiser.epoch != previous.pseudonymiser.epoch {
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: configuration.gateway.oin,
                    role: nil,
                    action: .keyEpoch,
                    object: "pseudonym-epoch:\(active.pseudonymiser.epoch)",
                    outcome: .success,
                    counts: [
                        "previousEpoch": Int(previous.pseudonymiser.epoch),
                        "heldEpochs": active.pseudonymiser.heldEpochs.count,
                    ]
                )
            )
        }
        state.replace(with: active)
        logger.info(
            "reloaded",
            metadata: ["policy": "\(active.policy.fingerprint)", "pseudonymEpoch": "\(active.pseudonymiser.epoch)"]
        )
        return active
    }

    /// The TLS settings: TLS 1.3 only, client certificate required (and verified against the CA by
    /// the ``ClientCertificateVerifier`` that the application installs).
    package func tlsConfiguration() throws -> TLSConfiguration {
        let tls = configuration.gateway.tls
        var config = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try NIOSSLCertificate.fromPEMFile(configuration.resolve(tls.certificate).path).map {
                .certificate($0)
            },
            privateKey: .privateKey(
                try NIOSSLPrivateKey(file: configuration.resolve(tls.privateKey).path, format: .pem)
            ),
            trustRoots: .file(configuration.resolve(tls.clientCA).path)
        )
        config.minimumTLSVersion = .tlsv13
        return config
    }

    /// The HTTPS application. `onServerRunning` receives the bound port (useful with port 0).
    package func application(
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let listen = configuration.gateway.listen
        let limits = configuration.gateway.limits
        let verifier = try ClientCertificateVerifier(
            clientCA: configuration.resolve(configuration.gateway.tls.clientCA),
            revocation: revocation,
            refusals: refusals,
            clock: clock
        )
        return Application(
            router: router(),
            server: try .tls(
                .http1(
                    configuration: .init(
                        additionalChannelHandlers: [
                            TLSRefusalAuditor(refusals: refusals),
                            ConnectionGuard(
                                connections: connections,
                                refusals: refusals,
                                handshakeTimeout: .seconds(Int64(limits.handshakeTimeoutSeconds)),
                                headerTimeout: .seconds(Int64(limits.headerTimeoutSeconds))
                            ),
                        ],
                        idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds)),
                        httpDecoderConfiguration: .init(
                            maxHeaderFieldSize: limits.maxHeaderBytes,
                            maxHeaderListSize: limits.maxHeaderBytes,
                            maxHeaderFieldCount: 100
                        )
                    )
                ),
                configuration: TLSChannelConfiguration(
                    tlsConfiguration: tlsConfiguration(),
                    customAsyncVerificationCallback: { await verifier.verify($0) }
                )
            ),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "vangnet"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger
        )
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    package func runUntilSignalled(
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onReload: (@Sendable (Result<ActivePolicy, any Error>) async -> Void)? = nil
    ) async throws {
        let reloads: [any Service] = onReload.map { [ReloadOnHangup(gateway: self, reported: $0)] } ?? []
        let group = ServiceGroup(
            configuration: .init(
                services: try reloads + services(onServerRunning: onServerRunning),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// The HTTPS application and the periodic services (audit checkpoints, the summary of limit
    /// and handshake refusals, retention purges, CRL checks), to run in one service group. The
    /// group stops them in reverse order: the application before the last audit checkpoint, the
    /// store last.
    func services(onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> [any Service] {
        services(serving: try application(onServerRunning: onServerRunning))
    }

    /// The services with `application` in its place, or without one (`nil`): the gateway's
    /// periodic work alone, for a caller that drives ``router(peerCertificate:)`` itself.
    package func services(serving application: (any Service)?) -> [any Service] {
        [
            StoreService(store: store),
            // Signs a checkpoint of the chain's head every checkpointSeconds (the store also signs one
            // every checkpointEvery entries), and a last one at shutdown, each kept as the audit head.
            PeriodicService(
                name: "audit checkpoint",
                interval: .seconds(configuration.gateway.audit.checkpointSeconds),
                logger: logger,
                atShutdown: { try await checkpointAudit() },
                work: { try await checkpointAudit() }
            ),
            // After the checkpoints in the list, so stopped before them: the last checkpoint covers the last request.
        ] + (application.map { [$0] } ?? []) + [
            PeriodicService(
                name: "refusal summary audit",
                interval: .seconds(1),
                logger: logger,
                atShutdown: { [store, clock, refusals] in try await refusals.flush(to: store, at: clock.now()) },
                work: { [store, clock, refusals] in try await refusals.flush(to: store, at: clock.now()) }
            ),
            PeriodicService(
                name: "collection check",
                interval: .seconds(configuration.gateway.purgeEverySeconds),
                logger: logger,
                atStart: true,
                work: { try await checkCollections() }
            ),
            PeriodicService(
                name: "retention purge",
                interval: .seconds(configuration.gateway.purgeEverySeconds),
                logger: logger,
                atStart: true,
                work: { try await purgeExpiredRecords() }
            ),
        ]
            + (configuration.gateway.tls.crl == nil
                ? []
                : [
                    PeriodicService(
                        name: "revocation list check",
                        interval: .seconds(configuration.gateway.tls.crlCheckSeconds ?? 60),
                        logger: logger,
                        atStart: true,
                        work: { try await reloadRevocationList() }
                    )
                ])
    }
}
