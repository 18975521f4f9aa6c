import Pseudonymisation
import Records
import Testing
import VangnetCore
import VangnetCrypto

@Suite struct PseudonymTests {
    let root = SecretBytes.random(count: KeyDerivation.rootKeyLength)
    let bsn = BSN("123456782")!
    let utrecht = RegionNumber(19)!, amsterdam = RegionNumber(21)!

    func pseudonymiser(epoch: UInt32 = 1, root: SecretBytes? = nil) throws -> Pseudonymiser {
        Pseudonymiser(keys: try PseudonymKeys(root: root ?? self.root, epoch: epoch))
    }

    func delivered(_ p: Pseudonymiser, region: RegionNumber, purpose: PurposeID, bsn: BSN? = nil) -> String {
        p.deliveryPseudonym(for: p.internalPseudonym(of: bsn ?? self.bsn), region: region, purpose: purpose)!.text
    }

    @Test func internalPseudonymIsStableAndKeyed() throws {
        let p = try pseudonymiser()
        #expect(p.internalPseudonym(of: bsn) == p.internalPseudonym(of: BSN("123456782")!))
        #expect(p.internalPseudonym(of: bsn) != p.internalPseudonym(of: BSN("111222333")!))
        #expect(
            try pseudonymiser(root: .random(count: 32)).internalPseudonym(of: bsn).bytes
                != p.internalPseudonym(of: bsn).bytes,
            "another root key gives another pseudonym: there is no unkeyed path"
        )
    }

    @Test func deliveryPseudonymIsStableWithinRegionPurposeAndEpoch() throws {
        let p = try pseudonymiser()
        #expect(
            delivered(p, region: utrecht, purpose: "vsv-opvolging")
                == delivered(p, region: utrecht, purpose: "vsv-opvolging")
        )
    }

    @Test func deliveryPseudonymsAreUnlinkableAcrossRegionsPurposesEpochsAndRoots() throws {
        let p = try pseudonymiser()
        let base = delivered(p, region: utrecht, purpose: "vsv-opvolging")
        #expect(delivered(p, region: amsterdam, purpose: "vsv-opvolging") != base)
        #expect(delivered(p, region: utrecht, purpose: "kwetsbare-jongeren") != base)
        #expect(
            delivered(try pseudonymiser(epoch: 2), region: utrecht, purpose: "vsv-opvolging").suffix(32)
                != base.suffix(32)
        )
        #expect(
            delivered(try pseudonymiser(root: .random(count: 32)), region: utrecht, purpose: "vsv-opvolging") != base
        )
    }

    @Test func deliveryPseudonymNamesSchemeAndEpoch() throws {
        let text = delivered(try pseudonymiser(epoch: 3), region: utrecht, purpose: "vsv-opvolging")
        #expect(text.hasPrefix("vp1.e3."))
        #expect(text.count == "vp1.e3.".count + 32)
    }

    @Test func pseudonymisedRecordCarriesNoBSN() throws {
        let line =
            #"{"bsn":"123456782","gemeentecode":"GM0344","periode":"2026-01","soort":"WW","startdatum":"2025-11-01"}"#
        let record = try RecordValidator(schema: .uwvInkomstenverhoudingen).validate(line: line, number: 1).get()
        let out = try pseudonymiser().pseudonymise(record)
        #expect(!String(describing: out).contains("123456782"))
        #expect(!String(describing: out.person).contains(Hex.encode(out.person.bytes)))
    }
}
