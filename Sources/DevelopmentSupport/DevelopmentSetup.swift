import AccessPolicy
import Foundation
import Gateway
import Records
import VangnetCore
import VangnetCrypto

/// Everything a development gateway needs, in one directory: a PKI (`certs/`), keys (`keys/`), a
/// database path and a configuration file (`vangnet.json`) whose policy names test organisations.
///
/// - Warning: development only; every OIN has the test prefix `00000099`.
package enum DevelopmentSetup {
    package static let gatewayOIN = OIN("00000099000000000001")!
    package static let duo = OIN("00000099000000000101")!
    package static let uwv = OIN("00000099000000000102")!
    /// Contactgemeente Utrecht, RMC region 19 (Utrecht).
    package static let regionUtrecht = OIN("00000099000000000219")!
    /// Contactgemeente Amsterdam, RMC region 21 (Agglomeratie Amsterdam).
    package static let regionAmsterdam = OIN("00000099000000000221")!
    /// The privacy officer of Gemeente Utrecht: approves region 19's re-identification requests.
    package static let approverUtrecht = OIN("00000099000000000319")!
    package static let auditor = OIN("00000099000000000901")!
    /// The platform team's Prometheus.
    package static let monitor = OIN("00000099000000000902")!
    /// An mbo institution in region 19, BRIN 91MB: reports applicants it cannot admit.
    package static let mboUtrecht = OIN("00000099000000000401")!
    /// An mbo institution in region 21 with two BRIN numbers, 92MB and 93MB.
    package static let mboAmsterdam = OIN("00000099000000000402")!
    /// The BRIN numbers the development policy binds to each institution.
    package static let institutionBRIN: [OIN: [String]] = [mboUtrecht: ["91MB"], mboAmsterdam: ["92MB", "93MB"]]

    /// The development sources by certificate name, with the dataset each pushes.
    package static let sources: [String: (oin: OIN, dataset: DatasetID)] = [
        "duo": (duo, "duo.onderwijsdeelname"),
        "uwv": (uwv, "uwv.inkomstenverhoudingen"),
        "mbo-utrecht": (mboUtrecht, "mbo.niet-toelaatbaar"),
        "mbo-amsterdam": (mboAmsterdam, "mbo.niet-toelaatbaar"),
    ]

    /// The client certificates of the development PKI.
    package static let clients: [DevelopmentPKI.Subject] = [
        .init(
            fileName: "duo",
            commonName: "DUO batch sender",
            organisation: "Dienst Uitvoering Onderwijs (test)",
            oin: duo
        ),
        .init(fileName: "uwv", commonName: "UWV batch sender", organisation: "UWV (test)", oin: uwv),
        .init(
            fileName: "region-utrecht",
            commonName: "RMC Utrecht",
            organisation: "Gemeente Utrecht (test)",
            oin: regionUtrecht
        ),
        .init(
            fileName: "region-amsterdam",
            commonName: "RMC Agglomeratie Amsterdam",
            organisation: "Gemeente Amsterdam (test)",
            oin: regionAmsterdam
        ),
        .init(
            fileName: "approver-utrecht",
            commonName: "Privacy officer",
            organisation: "Gemeente Utrecht (test)",
            oin: approverUtrecht
        ),
        .init(
            fileName: "mbo-utrecht",
            commonName: "Aanmelding en toelating",
            organisation: "MBO Utrecht (test)",
            oin: mboUtrecht
        ),
        .init(
            fileName: "mbo-amsterdam",
            commonName: "Aanmelding en toelating",
            organisation: "ROC Amsterdam (test)",
            oin: mboAmsterdam
        ),
        .init(fileName: "auditor", commonName: "Security officer", organisation: "Vangnet audit (test)", oin: auditor),
        .init(fileName: "monitor", commonName: "Prometheus", organisation: "Vangnet platform (test)", oin: monitor),
    ]

    /// Creates the PKI, keys and configuration under `directory` and returns the configuration.
    /// `extraClients` get certificates from the same CA but no place in the policy.
    @discardableResult
    package static func create(
        in directory: URL,
        port: Int = 8443,
        extraClients: [DevelopmentPKI.Subject] = []
    ) throws -> GatewayConfiguration {
        let certs = directory.appendingPathComponent("certs")
        let keys = directory.appendingPathComponent("keys")
        try DevelopmentPKI.create(in: certs, gatewayOIN: gatewayOIN, clients: clients + extraClients)
        try GatewayKeys.create(in: keys)
        let duoKey = try GatewayKeys.createSigningKey(named: "duo", in: keys)
        let uwvKey = try GatewayKeys.createSigningKey(named: "uwv", in: keys)
        var institutionKeys: [OIN: SigningPublicKey] = [:]
        for (name, oin) in [("mbo-utrecht", mboUtrecht), ("mbo-amsterdam", mboAmsterdam)] {
            institutionKeys[oin] = try GatewayKeys.createSigningKey(named: name, in: keys).publicKey
        }
        // The regions' own reveal keys: in production made and kept by each contactgemeente, which
        // registers only the public half; here beside the gateway's keys, for the demo and tests.
        var revealKeys: [OIN: BoxPublicKey] = [:]
        for (name, oin) in [("region-utrecht", regionUtrecht), ("region-amsterdam", regionAmsterdam)] {
            revealKeys[oin] = try createRevealKey(named: name, in: keys).publicKey
        }
        var configuration = GatewayConfiguration(
            gateway: .init(
                oin: gatewayOIN,
                listen: .init(host: "127.0.0.1", port: port),
                tls: .init(certificate: "certs/gateway.pem", privateKey: "certs/gateway.key", clientCA: "certs/ca.pem"),
                keyDirectory: "keys",
                database: "vangnet.sqlite"
            ),
            policy: policy(
                duoKey: duoKey.publicKey,
                uwvKey: uwvKey.publicKey,
                institutionKeys: institutionKeys,
                revealKeys: revealKeys
            ),
            datasets: try writeShippedDatasets(in: directory)
        )
        let file = directory.appendingPathComponent("vangnet.json")
        try configuration.write(to: file)
        configuration = try GatewayConfiguration.load(from: file)
        return configuration
    }

    /// Writes the shipped dataset definitions to `directory/datasets/` and returns their paths as
    /// the configuration names them: a security officer changes or adds a dataset there.
    package static func writeShippedDatasets(in directory: URL) throws -> [String] {
        let datasets = directory.appendingPathComponent("datasets")
        try FileManager.default.createDirectory(at: datasets, withIntermediateDirectories: true)
        return try DatasetSchema.shippedDefinitions.map { file, text in
            try Data((text + "\n").utf8).write(to: datasets.appendingPathComponent(file))
            return "datasets/\(file)"
        }
    }

    /// The development policy: the 40 regions of the reference data (two with a contactgemeente),
    /// two sources, two consumers, an auditor, the three default purposes.
    /// Makes a contactgemeente's X25519 reveal key pair as `<name>-reveal.key` / `.pub`.
    @discardableResult
    package static func createRevealKey(named name: String, in directory: URL) throws -> BoxKeyPair {
        let pair = BoxKeyPair.generate()
        try KeyFile.writeSecret(pair.secretKey, to: directory.appendingPathComponent("\(name)-reveal.key"))
        try KeyFile.writePublic(pair.publicKey.bytes, to: directory.appendingPathComponent("\(name)-reveal.pub"))
        return pair
    }

    /// The controls under which the development policy lets regions re-identify for
    /// vsv-opvolging: two reasons, Utrecht's privacy officer or the security officer decides.
    package static let reidentificationControls = PolicyDocument.Reidentification(
        reasons: ["rmc-contactpoging", "traject-start"],
        approvers: [approverUtrecht, auditor],
        monthlyQuota: 250,
        maxPerRequest: 50,
        expiresAfterHours: 72
    )

    /// The development policy: the 40 regions of the reference data (two with a contactgemeente),
    /// DUO, UWV and the institutions of `institutionKeys` as sources, two consumers, an approver,
    /// an auditor, the three default purposes (of which vsv-opvolging allows re-identification under
    /// ``reidentificationControls``) and the mbo report.
    package static func policy(
        duoKey: SigningPublicKey,
        uwvKey: SigningPublicKey,
        institutionKeys: [OIN: SigningPublicKey] = [:],
        revealKeys: [OIN: BoxPublicKey] = [:]
    ) -> PolicyDocument {
        let institutionNames = [mboUtrecht: "MBO Utrecht", mboAmsterdam: "ROC Amsterdam"]
        let institutions: [PolicyDocument.Organisation] = institutionKeys.keys.sorted().map { oin in
            .init(
                oin: oin,
                name: institutionNames[oin] ?? "mbo institution",
                role: .source,
                datasets: ["mbo.niet-toelaatbaar"],
                signingKeys: [Data(institutionKeys[oin]!.bytes).base64EncodedString()],
                brin: institutionBRIN[oin]
            )
        }
        var regions = PolicyDocument.Region.fromReference()
        let reveal = { (oin: OIN) in revealKeys[oin].map { Data($0.bytes).base64EncodedString() } }
        for (i, region) in regions.enumerated() {
            switch region.number.value {
            case 19:
                regions[i].contactgemeente = .init(
                    name: "Gemeente Utrecht (test)",
                    oin: regionUtrecht,
                    revealKey: reveal(regionUtrecht)
                )
            case 21:
                regions[i].contactgemeente = .init(
                    name: "Gemeente Amsterdam (test)",
                    oin: regionAmsterdam,
                    revealKey: reveal(regionAmsterdam)
                )
            default: break
            }
        }
        var purposes = PolicyDocument.Purpose.defaults + [.mboNietToelaatbaar]
        purposes[0].reidentification = reidentificationControls
        return PolicyDocument(
            regions: regions,
            organisations: [
                .init(
                    oin: duo,
                    name: "DUO",
                    role: .source,
                    datasets: ["duo.onderwijsdeelname"],
                    signingKeys: [Data(duoKey.bytes).base64EncodedString()]
                ),
                .init(
                    oin: uwv,
                    name: "UWV",
                    role: .source,
                    datasets: ["uwv.inkomstenverhoudingen"],
                    signingKeys: [Data(uwvKey.bytes).base64EncodedString()]
                ),
            ] + institutions + [
                .init(oin: regionUtrecht, name: "Gemeente Utrecht (RMC-regio 19 Utrecht)", role: .consumer),
                .init(
                    oin: regionAmsterdam,
                    name: "Gemeente Amsterdam (RMC-regio 21 Agglomeratie Amsterdam)",
                    role: .consumer
                ),
                .init(
                    oin: approverUtrecht,
                    name: "Privacy officer, Gemeente Utrecht",
                    role: .approver,
                    region: RegionNumber(19)!
                ),
                .init(oin: auditor, name: "Security officer", role: .auditor),
                .init(oin: monitor, name: "Prometheus (platform team)", role: .monitor),
            ],
            purposes: purposes,
            grants: [
                .init(
                    consumer: regionUtrecht,
                    purposes: ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later", "mbo-niet-toelaatbaar"]
                ),
                .init(
                    consumer: regionAmsterdam,
                    purposes: ["vsv-opvolging", "vsv-een-jaar-later", "mbo-niet-toelaatbaar"]
                ),
            ]
        )
    }
}
