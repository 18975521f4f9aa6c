import BatchEnvelope
import Foundation
import Gateway
import VangnetCore
import VangnetCrypto

extension DevelopmentSetup {
    /// A development setup that answers the published envelope vectors
    /// (docs/test-vectors/envelope-v1.json) as the document says: the gateway's box and signing
    /// keys and DUO's registered signing key are the vectors' test-only keys, and the creation
    /// window reaches back to the vectors' `createdAt`. So an agency pushes the vectors' envelope
    /// (accepted, a receipt signed with the vectors' gateway key) and each variant (refused with its
    /// `expectedError`) to a real gateway, and then its own client's envelopes.
    ///
    /// Never for anything real: the keys are public.
    @discardableResult
    package static func createForTestVectors(
        in directory: URL,
        vectors file: URL,
        port: Int = 8443,
        now: Date = Date()
    ) throws -> GatewayConfiguration {
        struct Vectors: Decodable {
            struct Keys: Decodable {
                let sourceSigningSeed: String
                let gatewayBoxSecretKey: String
                let gatewaySigningSeed: String
            }
            struct Expected: Decodable {
                struct Header: Decodable { let createdAt: String }
                let header: Header
            }
            let keys: Keys
            let expected: Expected
        }
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: file))
        func secret(_ hex: String, _ name: String) throws -> SecretBytes {
            guard let bytes = Hex.decode(hex), bytes.count == 32 else {
                throw SetupFailure("\(file.path): keys.\(name) is not 32 bytes of hex")
            }
            return SecretBytes(bytes)
        }
        guard let createdAt = EnvelopeHeader.instant(vectors.expected.header.createdAt) else {
            throw SetupFailure("\(file.path): expected.header.createdAt is not an RFC 3339 time")
        }
        let box = try BoxKeyPair(secretKey: secret(vectors.keys.gatewayBoxSecretKey, "gatewayBoxSecretKey"))
        let signing = try SigningKeyPair(seed: secret(vectors.keys.gatewaySigningSeed, "gatewaySigningSeed"))
        let source = try SigningKeyPair(seed: secret(vectors.keys.sourceSigningSeed, "sourceSigningSeed"))

        var configuration = try create(in: directory, port: port)
        let keys = directory.appendingPathComponent("keys")
        try KeyFile.writeSecret(box.secretKey, to: keys.appendingPathComponent("gateway-box.key"))
        try KeyFile.writePublic(box.publicKey.bytes, to: keys.appendingPathComponent("gateway-box.pub"))
        try KeyFile.writeSecret(signing.seed, to: keys.appendingPathComponent("gateway-signing.key"))
        try KeyFile.writePublic(signing.publicKey.bytes, to: keys.appendingPathComponent("gateway-signing.pub"))
        try KeyFile.writeSecret(source.seed, to: keys.appendingPathComponent("duo-signing.key"))
        try KeyFile.writePublic(source.publicKey.bytes, to: keys.appendingPathComponent("duo-signing.pub"))
        for k in configuration.policy.organisations.indices where configuration.policy.organisations[k].oin == duo {
            configuration.policy.organisations[k].signingKeys = [Data(source.publicKey.bytes).base64EncodedString()]
        }
        // From now back to the vectors' day, and a week to spare.
        let distance = Int(abs(now.timeIntervalSince(createdAt)).rounded(.up))
        configuration.gateway.limits.creationWindowSeconds = max(
            configuration.gateway.limits.creationWindowSeconds,
            distance + 7 * 86_400
        )
        let written = directory.appendingPathComponent("vangnet.json")
        try configuration.write(to: written)
        return try GatewayConfiguration.load(from: written)
    }
}

/// A development setup that cannot be made, and why.
package struct SetupFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
