import Foundation
import Pseudonymisation
import VangnetCrypto

/// The gateway's own keys, from its key directory.
///
/// | file | what |
/// |---|---|
/// | `gateway-signing.key` / `.pub` | Ed25519: signs receipts (and, later, audit checkpoints) |
/// | `gateway-box.key` / `.pub` | X25519: sources seal payload keys to it |
/// | `audit-signing.key` / `.pub` | Ed25519: signs audit checkpoints |
/// | `pseudonym-root.e<N>.key` | 32-byte root secret of pseudonym key epoch N |
/// | `reidentification.e<N>.key` | 32-byte root secret of re-identification key epoch N: seals the BSNs kept for re-identification; the newest is in use |
///
/// Secret files must have mode 0600 and belong to the gateway's user; loading refuses anything
/// else.
package struct GatewayKeys: Sendable {
    package let signing: SigningKeyPair
    package let box: BoxKeyPair
    /// Signs audit checkpoints; auditors verify them with `audit-signing.pub`.
    package let audit: SigningKeyPair
    /// The pseudonym root secret of every epoch whose key file is present.
    package let pseudonymRoots: [UInt32: SecretBytes]
    /// The re-identification root secret of every epoch whose key file is present (none: nothing
    /// is kept for re-identification, and nothing kept can be released).
    package let identityRoots: [UInt32: SecretBytes]

    package init(
        signing: SigningKeyPair,
        box: BoxKeyPair,
        audit: SigningKeyPair,
        pseudonymRoots: [UInt32: SecretBytes],
        identityRoots: [UInt32: SecretBytes] = [:]
    ) {
        self.signing = signing
        self.box = box
        self.audit = audit
        self.pseudonymRoots = pseudonymRoots
        self.identityRoots = identityRoots
    }

    static func identityRootFile(epoch: UInt32) -> String { "reidentification.e\(epoch).key" }

    /// Every `reidentification.e<N>.key` in `directory`, by epoch.
    package static func loadIdentityRoots(from directory: URL) throws -> [UInt32: SecretBytes] {
        var roots: [UInt32: SecretBytes] = [:]
        for epoch in try identityEpochs(in: directory) {
            roots[epoch] = try KeyFile.readSecret(directory.appendingPathComponent(identityRootFile(epoch: epoch)))
        }
        return roots
    }

    /// The epochs that have a re-identification key file in `directory`, in order.
    package static func identityEpochs(in directory: URL) throws -> [UInt32] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).compactMap { name -> UInt32? in
            guard name.hasPrefix("reidentification.e"), name.hasSuffix(".key") else { return nil }
            return UInt32(name.dropFirst("reidentification.e".count).dropLast(".key".count))
        }.sorted()
    }

    /// The vault sealing under the newest re-identification epoch held and opening every held
    /// one; `nil` if no re-identification key file is present.
    package func identityVault() throws -> IdentityVault? {
        guard let newest = identityRoots.keys.max() else { return nil }
        let earlier = try identityRoots.filter { $0.key != newest }.map {
            try IdentityKeys(root: $0.value, epoch: $0.key)
        }
        return IdentityVault(current: try IdentityKeys(root: identityRoots[newest]!, epoch: newest), earlier: earlier)
    }

    /// Starts a new re-identification epoch: a fresh key file after the newest one; returns its
    /// number. Identities sealed before stay readable while their epoch's file is kept.
    package static func rotateIdentityRoot(in directory: URL) throws -> UInt32 {
        let next = (try identityEpochs(in: directory).last ?? 0) + 1
        let file = directory.appendingPathComponent(identityRootFile(epoch: next))
        guard !FileManager.default.fileExists(atPath: file.path) else {
            throw KeyFile.Failure(path: file.path, reason: "exists")
        }
        try KeyFile.writeSecret(.random(count: KeyDerivation.rootKeyLength), to: file)
        return next
    }

    /// Destroys every re-identification key file in `directory` (overwritten, then removed):
    /// what was kept for re-identification can no longer be opened by anyone; pseudonyms, pulls
    /// and pushes do not depend on these keys. Returns the epochs destroyed.
    package static func destroyIdentityRoots(in directory: URL) throws -> [UInt32] {
        let epochs = try identityEpochs(in: directory)
        for epoch in epochs {
            let file = directory.appendingPathComponent(identityRootFile(epoch: epoch))
            let handle = try FileHandle(forWritingTo: file)
            try handle.write(contentsOf: Data(repeating: 0, count: KeyDerivation.rootKeyLength))
            try handle.synchronize()
            try handle.close()
            try FileManager.default.removeItem(at: file)
        }
        return epochs
    }

    static func pseudonymRootFile(epoch: UInt32) -> String { "pseudonym-root.e\(epoch).key" }

    /// Loads the keys from `directory`, checking permissions.
    package static func load(from directory: URL) throws -> GatewayKeys {
        GatewayKeys(
            signing: try SigningKeyPair(
                seed: KeyFile.readSecret(directory.appendingPathComponent("gateway-signing.key"))
            ),
            box: try BoxKeyPair(secretKey: KeyFile.readSecret(directory.appendingPathComponent("gateway-box.key"))),
            audit: try SigningKeyPair(seed: KeyFile.readSecret(directory.appendingPathComponent("audit-signing.key"))),
            pseudonymRoots: try loadPseudonymRoots(from: directory),
            identityRoots: try loadIdentityRoots(from: directory)
        )
    }

    /// Every `pseudonym-root.e<N>.key` in `directory`, by epoch.
    static func loadPseudonymRoots(from directory: URL) throws -> [UInt32: SecretBytes] {
        var roots: [UInt32: SecretBytes] = [:]
        for epoch in try pseudonymEpochs(in: directory) {
            roots[epoch] = try KeyFile.readSecret(directory.appendingPathComponent(pseudonymRootFile(epoch: epoch)))
        }
        return roots
    }

    /// The epochs that have a root key file in `directory`, in order.
    package static func pseudonymEpochs(in directory: URL) throws -> [UInt32] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).compactMap { name -> UInt32? in
            guard name.hasPrefix("pseudonym-root.e"), name.hasSuffix(".key") else { return nil }
            return UInt32(name.dropFirst("pseudonym-root.e".count).dropLast(".key".count))
        }.sorted()
    }

    /// The pseudonymiser for `current`, holding every loaded epoch (earlier records stay deliverable).
    /// - Throws: ``KeyFile/Failure`` if the current epoch has no root key.
    package func pseudonymiser(currentEpoch: UInt32, directory: URL) throws -> Pseudonymiser {
        guard let root = pseudonymRoots[currentEpoch] else {
            throw KeyFile.Failure(
                path: directory.appendingPathComponent(Self.pseudonymRootFile(epoch: currentEpoch)).path,
                reason:
                    "missing: pseudonymEpoch is \(currentEpoch) but there is no root key for it (vangnet keys rotate makes one)"
            )
        }
        let earlier = try pseudonymRoots.filter { $0.key != currentEpoch }.map {
            try PseudonymKeys(root: $0.value, epoch: $0.key)
        }
        return Pseudonymiser(current: try PseudonymKeys(root: root, epoch: currentEpoch), earlier: earlier)
    }

    /// Makes fresh keys and writes them (secrets 0600, public halves beside them), with pseudonym
    /// epoch 1. Refuses to overwrite existing keys.
    @discardableResult
    package static func create(in directory: URL) throws -> GatewayKeys {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let existing = directory.appendingPathComponent("gateway-signing.key")
        guard !FileManager.default.fileExists(atPath: existing.path) else {
            throw KeyFile.Failure(path: existing.path, reason: "exists; refusing to overwrite gateway keys")
        }
        let root = SecretBytes.random(count: KeyDerivation.rootKeyLength)
        let identity = SecretBytes.random(count: KeyDerivation.rootKeyLength)
        let keys = GatewayKeys(
            signing: .generate(),
            box: .generate(),
            audit: .generate(),
            pseudonymRoots: [1: root],
            identityRoots: [1: identity]
        )
        try KeyFile.writeSecret(keys.signing.seed, to: existing)
        try KeyFile.writePublic(
            keys.signing.publicKey.bytes,
            to: directory.appendingPathComponent("gateway-signing.pub")
        )
        try KeyFile.writeSecret(keys.box.secretKey, to: directory.appendingPathComponent("gateway-box.key"))
        try KeyFile.writePublic(keys.box.publicKey.bytes, to: directory.appendingPathComponent("gateway-box.pub"))
        try KeyFile.writeSecret(keys.audit.seed, to: directory.appendingPathComponent("audit-signing.key"))
        try KeyFile.writePublic(keys.audit.publicKey.bytes, to: directory.appendingPathComponent("audit-signing.pub"))
        try KeyFile.writeSecret(root, to: directory.appendingPathComponent(pseudonymRootFile(epoch: 1)))
        try KeyFile.writeSecret(identity, to: directory.appendingPathComponent(identityRootFile(epoch: 1)))
        return keys
    }

    /// Starts a new pseudonym epoch: writes a fresh root key for the epoch after the newest one
    /// in `directory` and returns its number. Existing epochs are left alone.
    package static func rotatePseudonymRoot(in directory: URL) throws -> UInt32 {
        let next = (try pseudonymEpochs(in: directory).last ?? 0) + 1
        let file = directory.appendingPathComponent(pseudonymRootFile(epoch: next))
        guard !FileManager.default.fileExists(atPath: file.path) else {
            throw KeyFile.Failure(path: file.path, reason: "exists")
        }
        try KeyFile.writeSecret(.random(count: KeyDerivation.rootKeyLength), to: file)
        return next
    }

    /// Makes a source's Ed25519 signing key pair as `<name>-signing.key` / `.pub`.
    @discardableResult
    package static func createSigningKey(named name: String, in directory: URL) throws -> SigningKeyPair {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pair = SigningKeyPair.generate()
        try KeyFile.writeSecret(pair.seed, to: directory.appendingPathComponent("\(name)-signing.key"))
        try KeyFile.writePublic(pair.publicKey.bytes, to: directory.appendingPathComponent("\(name)-signing.pub"))
        return pair
    }
}
