import Foundation
import Pseudonymisation
import Testing
import VangnetCore
import VangnetCrypto

/// The identity vault seals a BSN to its person, the same way each time within an epoch, and
/// releases it only sealed to a recipient; altered, moved or unheld seals are refused.
@Suite struct IdentityVaultTests {
    static let bsn = BSN("111222333")!
    static let other = BSN("123456782")!
    static let person = InternalPseudonym(storedBytes: Array(repeating: 7, count: 32), epoch: 1)
    static let stranger = InternalPseudonym(storedBytes: Array(repeating: 8, count: 32), epoch: 1)

    static func vault(_ root: SecretBytes = .random(count: 32), epoch: UInt32 = 1) throws -> IdentityVault {
        IdentityVault(current: try IdentityKeys(root: root, epoch: epoch))
    }

    static func reveal(_ sealed: [UInt8], _ key: BoxKeyPair) throws -> (String, Bool)? {
        try IdentityVault.reveal(sealed, with: key) { pseudonym, bsn in (pseudonym, bsn == Self.bsn) }
    }

    @Test func aSealIsStableWithinAnEpochAndHoldsNoDigits() throws {
        let vault = try Self.vault()
        let sealed = vault.seal(Self.bsn, of: Self.person)
        #expect(sealed == vault.seal(Self.bsn, of: Self.person), "the same record stays the same text")
        #expect(sealed != vault.seal(Self.other, of: Self.person))
        #expect(sealed != vault.seal(Self.bsn, of: Self.stranger))
        #expect(sealed.hasPrefix("ri1.e1.") && !sealed.contains("111222333"))
        #expect(sealed != (try Self.vault()).seal(Self.bsn, of: Self.person), "another key, another text")
    }

    @Test func onlyTheRecipientOpensARelease() throws {
        let vault = try Self.vault()
        let recipient = BoxKeyPair.generate()
        guard
            case .success(let released) = vault.release(
                vault.seal(Self.bsn, of: Self.person),
                of: Self.person,
                as: "vp1.e1.00",
                to: recipient.publicKey
            )
        else {
            Issue.record("not released")
            return
        }
        let opened = try Self.reveal(released, recipient)
        #expect(opened?.0 == "vp1.e1.00" && opened?.1 == true)
        let byAnother = (try? Self.reveal(released, BoxKeyPair.generate())) ?? nil
        #expect(byAnother == nil)
    }

    @Test func anAlteredMovedOrUnheldSealIsNotReleased() throws {
        let root = SecretBytes.random(count: 32)
        let vault = try Self.vault(root)
        let recipient = BoxKeyPair.generate().publicKey
        let sealed = vault.seal(Self.bsn, of: Self.person)
        var altered = Array(sealed)
        altered[altered.count - 3] = altered[altered.count - 3] == "A" ? "B" : "A"
        let outcomes = [
            vault.release(String(altered), of: Self.person, as: "p", to: recipient),
            vault.release(sealed, of: Self.stranger, as: "p", to: recipient),
            vault.release("not a seal", of: Self.person, as: "p", to: recipient),
        ].map { result -> String in
            switch result {
            case .success: "released"
            case .failure(let reason): "\(reason)"
            }
        }
        #expect(outcomes == ["doesNotOpen", "doesNotOpen", "doesNotOpen"])
        // After a rotation the old epoch still opens while held; a vault without it does not.
        let rotated = IdentityVault(
            current: try IdentityKeys(root: .random(count: 32), epoch: 2),
            earlier: [try IdentityKeys(root: root, epoch: 1)]
        )
        let stillOpens = (try? rotated.release(sealed, of: Self.person, as: "p", to: recipient).get()) != nil
        #expect(stillOpens && rotated.epoch == 2 && rotated.seal(Self.bsn, of: Self.person).hasPrefix("ri1.e2."))
        let withoutOld = try Self.vault(epoch: 2)
        let unheld = withoutOld.release(sealed, of: Self.person, as: "p", to: recipient)
        #expect(unheld == .failure(.epochNotHeld))
    }
}
