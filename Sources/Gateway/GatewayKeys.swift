import Foundation
import Pseudonymisation
import VangnetCrypto

/// The gateway's own keys, from its key directory.
///
/// | file | what |
/// |---|---|
/// | `gateway-signing.key` / `.pub` | Ed25519: signs receipts (and, later, audit checkpoints) |
/// | `gateway-box.key` / `.pub` | X25519: sources seal payload keys to it |
/// | `pseudonym-root.key` | 32-byte root secret of the pseudonym key hierarchy |
///
/// Secret files must have mode 0600; loading refuses anything looser.
public struct GatewayKeys: Sendable {
    public let signing: SigningKeyPair
    public let box: BoxKeyPair
    public let pseudonymRoot: SecretBytes

    public init(signing: SigningKeyPair, box: BoxKeyPair, pseudonymRoot: SecretBytes) {
        self.signing = signing
        self.box = box
        self.pseudonymRoot = pseudonymRoot
    }

    /// Loads the keys from `directory`, checking permissions.
    public static func load(from directory: URL) throws -> GatewayKeys {
        GatewayKeys(
            signing: try SigningKeyPair(seed: KeyFile.readSecret(directory.appendingPathComponent("gateway-signing.key"))),
            box: try BoxKeyPair(secretKey: KeyFile.readSecret(directory.appendingPathComponent("gateway-box.key"))),
            pseudonymRoot: try KeyFile.readSecret(directory.appendingPathComponent("pseudonym-root.key"))
        )
    }

    /// Makes fresh keys and writes them (secrets 0600, public halves beside them).
    /// Refuses to overwrite existing keys.
    @discardableResult
    public static func create(in directory: URL) throws -> GatewayKeys {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let existing = directory.appendingPathComponent("pseudonym-root.key")
        guard !FileManager.default.fileExists(atPath: existing.path) else {
            throw KeyFile.Failure(path: existing.path, reason: "exists; refusing to overwrite gateway keys")
        }
        let keys = GatewayKeys(signing: .generate(), box: .generate(), pseudonymRoot: .random(count: KeyDerivation.rootKeyLength))
        try KeyFile.writeSecret(keys.signing.seed, to: directory.appendingPathComponent("gateway-signing.key"))
        try KeyFile.writePublic(keys.signing.publicKey.bytes, to: directory.appendingPathComponent("gateway-signing.pub"))
        try KeyFile.writeSecret(keys.box.secretKey, to: directory.appendingPathComponent("gateway-box.key"))
        try KeyFile.writePublic(keys.box.publicKey.bytes, to: directory.appendingPathComponent("gateway-box.pub"))
        try KeyFile.writeSecret(keys.pseudonymRoot, to: existing)
        return keys
    }

    /// Makes a source's Ed25519 signing key pair as `<name>-signing.key` / `.pub`.
    @discardableResult
    public static func createSigningKey(named name: String, in directory: URL) throws -> SigningKeyPair {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pair = SigningKeyPair.generate()
        try KeyFile.writeSecret(pair.seed, to: directory.appendingPathComponent("\(name)-signing.key"))
        try KeyFile.writePublic(pair.publicKey.bytes, to: directory.appendingPathComponent("\(name)-signing.pub"))
        return pair
    }
}
