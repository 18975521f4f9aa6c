import VangnetCore
import VangnetCrypto

/// The pseudonymisation key hierarchy: one root secret, subkeys per use and epoch.
///
/// Subkeys come from libsodium's labelled KDF: `VNGTINTL` for the internal pseudonym (stored),
/// `VNGTDELV` for delivery pseudonyms (handed to regions); the subkey id is the epoch. So a new
/// epoch or a new root key gives unrelated pseudonyms, and there is no unkeyed path.
package struct PseudonymKeys: Sendable, CustomStringConvertible {
    /// The epoch whose keys are in use.
    package let epoch: UInt32
    let internalKey: SecretBytes
    let deliveryKey: SecretBytes
    /// Seals the cursors handed to regions (`VNGTCURS`).
    let cursorKey: SecretBytes

    package init(root: SecretBytes, epoch: UInt32) throws {
        self.epoch = epoch
        self.internalKey = try KeyDerivation.derive(from: root, context: "VNGTINTL", id: UInt64(epoch))
        self.deliveryKey = try KeyDerivation.derive(from: root, context: "VNGTDELV", id: UInt64(epoch))
        self.cursorKey = try KeyDerivation.derive(from: root, context: "VNGTCURS", id: UInt64(epoch))
    }

    package var description: String { "PseudonymKeys(epoch \(epoch), redacted)" }
}
