import AccessPolicy
import Foundation
import Testing
import VangnetCore
import VangnetCrypto

/// The policy's controls of re-identification: checked where they are written, and decided as
/// the rules say (who may ask, who may decide).
@Suite struct ReidentificationPolicyTests {
    static let approver = OIN("00000099000000000319")!
    static let revealKey = Data(BoxKeyPair.generate().publicKey.bytes).base64EncodedString()

    /// The fixture with vsv-opvolging re-identifying, an approver for region 19 and Utrecht's reveal key.
    static func document(_ change: (inout PolicyDocument) -> Void = { _ in }) -> PolicyDocument {
        var document = Fixture.document
        document.organisations.append(
            .init(oin: approver, name: "Privacy officer", role: .approver, region: RegionNumber(19)!)
        )
        document.regions[18].contactgemeente?.revealKey = revealKey
        document.purposes[0].reidentification = .init(
            reasons: ["rmc-contactpoging"],
            approvers: [approver, Fixture.auditor],
            monthlyQuota: 100,
            maxPerRequest: 10
        )
        change(&document)
        return document
    }

    static func errors(_ change: (inout PolicyDocument) -> Void) -> [String] {
        do {
            _ = try Policy(document: document(change))
            return []
        } catch let error as PolicyError {
            return error.errors.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func wellFormedControlsPassAndAnUnregisteredRevealKeyIsAWarning() throws {
        let policy = try Policy(document: Self.document())
        #expect(policy.reidentifyingPurposes == ["vsv-opvolging"])
        #expect(policy.reidentifyingDatasets == ["duo.onderwijsdeelname"])
        let warned = policy.warnings.map(\.description).filter { $0.contains("revealKey") }
        #expect(warned.count == 1 && warned[0].contains("region 21"), "only Amsterdam, granted it without a key")
        let without = try Policy(document: Self.document { $0.regions[18].contactgemeente?.revealKey = nil })
        let warnings = without.warnings.map(\.description).filter { $0.contains("registers no revealKey") }
        #expect(warnings.count == 2)
    }

    @Test func badControlsAreErrorsWithTheirPlaces() {
        let cases: [(String, (inout PolicyDocument) -> Void, String)] = [
            ("no reasons", { $0.purposes[0].reidentification?.reasons = [] }, "purposes[0].reidentification.reasons"),
            ("a malformed reason", { $0.purposes[0].reidentification?.reasons = ["RMC contact"] }, "reasons[0]"),
            ("no approvers", { $0.purposes[0].reidentification?.approvers = [] }, "reidentification.approvers"),
            (
                "a consumer as approver", { $0.purposes[0].reidentification?.approvers = [Fixture.utrecht] },
                "approvers[0]"
            ),
            (
                "an unknown approver", { $0.purposes[0].reidentification?.approvers = [OIN("00000099000000000777")!] },
                "approvers[0]"
            ),
            ("a quota of 0", { $0.purposes[0].reidentification?.monthlyQuota = 0 }, "monthlyQuota"),
            ("requests of 0", { $0.purposes[0].reidentification?.maxPerRequest = 0 }, "maxPerRequest"),
            (
                "expiry beyond 30 days", { $0.purposes[0].reidentification?.expiresAfterHours = 721 },
                "expiresAfterHours"
            ),
            (
                "a reveal key that is no key", { $0.regions[18].contactgemeente?.revealKey = "bm90IGEga2V5" },
                "revealKey"
            ),
            (
                "an approver with datasets", { $0.organisations[5].datasets = ["duo.onderwijsdeelname"] },
                "organisations[5]"
            ),
        ]
        var wrong: [String] = []
        for (name, change, place) in cases {
            let found = Self.errors(change)
            if found.count != 1 || !(found.first?.contains(place) ?? false) { wrong.append("\(name): \(found)") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test func reidentificationTrueWithoutControlsIsRefusedAndFalseReadsAsNever() throws {
        let on = Data(
            #"{"id":"p","legalBasis":"x","populationDataset":"d","population":[],"fields":{},"retentionDays":1,"reidentification":true}"#
                .utf8
        )
        let refused = (try? JSONDecoder().decode(PolicyDocument.Purpose.self, from: on)) == nil
        #expect(refused)
        let off = Data(
            #"{"id":"p","legalBasis":"x","populationDataset":"d","population":[],"fields":{},"retentionDays":1,"reidentification":false}"#
                .utf8
        )
        let purpose = try JSONDecoder().decode(PolicyDocument.Purpose.self, from: off)
        #expect(purpose.reidentification == nil)
        let written = String(decoding: try JSONEncoder().encode(purpose), as: UTF8.self)
        #expect(written.contains("\"reidentification\":false"), "written as it was read, so the fingerprint stays")
    }

    @Test func onlyAGrantedRegionWithAKeyMayAskAndOnlyANamedApproverOtherThanTheRequesterDecides() throws {
        let policy = try Policy(document: Self.document())
        func caller(_ oin: OIN) throws -> Caller {
            guard case .permit(let caller) = policy.identify(oin) else { throw CancellationError() }
            return caller
        }
        guard case .consumer(let utrecht) = try caller(Fixture.utrecht),
            case .consumer(let amsterdam) = try caller(Fixture.amsterdam)
        else {
            Issue.record("the contactgemeenten are not consumers")
            return
        }
        func code<T>(_ decision: AccessDecision<T>) -> String {
            switch decision {
            case .permit: "permit"
            case .deny(let denial): denial.code.rawValue
            }
        }
        #expect(code(policy.mayReidentify(consumer: utrecht, purpose: "vsv-opvolging")) == "permit")
        #expect(
            code(policy.mayReidentify(consumer: utrecht, purpose: "kwetsbare-jongeren"))
                == "reidentification_not_allowed"
        )
        #expect(code(policy.mayReidentify(consumer: amsterdam, purpose: "vsv-opvolging")) == "no_reveal_key")
        #expect(code(policy.mayReidentify(consumer: amsterdam, purpose: "vsv-een-jaar-later")) == "no_grant")
        #expect(code(policy.mayReidentify(consumer: utrecht, purpose: "nope")) == "unknown_purpose")

        let approver = try caller(Self.approver)
        let auditor = try caller(Fixture.auditor)
        let decide = { (caller: Caller, region: Int) in
            code(
                policy.mayDecide(
                    caller,
                    purpose: "vsv-opvolging",
                    region: RegionNumber(region)!,
                    requester: Fixture.utrecht
                )
            )
        }
        #expect(decide(approver, 19) == "permit")
        #expect(decide(approver, 21) == "not_an_approver", "bound to region 19")
        #expect(decide(auditor, 21) == "permit", "the security officer decides for every region")
        #expect(decide(.consumer(utrecht), 19) == "self_approval")
        #expect(decide(.consumer(amsterdam), 19) == "not_an_approver")
    }
}
