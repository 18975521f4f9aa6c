import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// The checked, compiled access policy. Deny by default: what no grant names is refused.
package struct Policy: Sendable {
    package let document: PolicyDocument
    /// Fingerprint of the policy document: the first 16 bytes of BLAKE2b-256 over its canonical
    /// JSON (sorted keys), in hex. Audit entries and deliveries name the policy by it.
    package let fingerprint: String
    /// What the checks found that does not stop the policy from working (a purpose nobody holds,
    /// regions without a contactgemeente).
    package let warnings: [PolicyProblem]
    /// Every organisation as its role's caller type.
    let callers: [OIN: Caller]
    let regions: [RegionNumber: PolicyDocument.Region]
    let routing: [MunicipalityCode: RegionNumber]
    let purposes: [PurposeID: PolicyDocument.Purpose]
    let grants: [OIN: Set<PurposeID>]
    let catalog: DatasetCatalog

    /// Checks the document against the reference data and every version of the datasets held.
    /// - Throws: ``PolicyError`` listing every problem found, each with its place in the document.
    package init(
        document: PolicyDocument,
        reference: ReferenceData = .embedded,
        datasets catalog: DatasetCatalog = .shipped
    ) throws {
        var check = PolicyChecker(document: document, reference: reference, catalog: catalog)
        check.run()
        guard check.errors.isEmpty else { throw PolicyError(problems: check.errors + check.warnings) }
        self.document = document
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        self.fingerprint = Hex.encode(
            GenericHash.hash(Array(try encoder.encode(document)), outputLength: 32).prefix(16)
        )
        self.warnings = check.warnings
        self.callers = check.organisations.compactMapValues { Caller($0, signingKeys: check.signingKeys[$0.oin] ?? []) }
        self.regions = check.regions
        self.routing = check.routing
        self.purposes = check.purposes
        self.grants = check.grants
        self.catalog = catalog
    }

    /// The caller behind a verified certificate's OIN, narrowed to its role, or a denial.
    package func identify(_ oin: OIN) -> AccessDecision<Caller> {
        guard let caller = callers[oin] else {
            return .deny(Denial(.unknownOrganisation, "OIN \(oin) is not a known organisation"))
        }
        return .permit(caller)
    }

    /// The region a record with this municipality of residence is routed to.
    package func region(of municipality: MunicipalityCode) -> RegionNumber? { routing[municipality] }

    /// The region as the policy names it.
    package func region(_ number: RegionNumber) -> PolicyDocument.Region? { regions[number] }

    /// The purpose with this id.
    package func purpose(_ id: PurposeID) -> PolicyDocument.Purpose? { purposes[id] }

    /// The latest version of a dataset the gateway knows.
    package func schema(_ id: DatasetID) -> DatasetSchema? { catalog.latest(id) }

    /// The dataset at this version, if the gateway holds it.
    package func schema(_ id: DatasetID, version: Int) -> DatasetSchema? { catalog.schema(id, version: version) }

    /// The datasets the gateway knows: every version it holds, by id and then version.
    package var datasets: [DatasetSchema] { catalog.all }

    /// Whether `source` may push `dataset`, signed by the key with `keyID`; a permit gives the key
    /// and every version of the dataset held (the batch names the one it follows).
    package func mayPush(
        source: Caller.Source,
        dataset: DatasetID,
        keyID: String
    ) -> AccessDecision<(SigningPublicKey, [DatasetSchema])> {
        let versions = catalog.versions(of: dataset)
        guard source.datasets.contains(dataset), !versions.isEmpty else {
            // The dataset id comes from the envelope: named only if it is one the gateway knows.
            let named = !versions.isEmpty ? "dataset \(dataset)" : "this dataset (unknown to the gateway)"
            return .deny(Denial(.datasetNotAllowed, "\(source.name) may not push \(named)"))
        }
        guard let key = source.signingKeys.first(where: { $0.keyID == keyID }) else {
            return .deny(Denial(.unknownSigningKey, "signing key \(keyID) is not registered for \(source.name)"))
        }
        return .permit((key, versions))
    }

    /// Whether `consumer` may pull `purpose`; a permit says what it receives.
    package func mayPull(consumer: Caller.Consumer, purpose id: PurposeID) -> AccessDecision<DeliveryScope> {
        guard let purpose = purposes[id] else { return .deny(Denial(.unknownPurpose, "purpose \(id) does not exist")) }
        guard grants[consumer.oin]?.contains(id) == true else {
            return .deny(Denial(.noGrant, "\(consumer.name) holds no grant for purpose \(id)"))
        }
        return .permit(DeliveryScope(purpose: purpose, region: consumer.region))
    }

    /// Whether `consumer` may ask to re-identify people of its region's population for `purpose`
    /// (and, asked again at release, whether it still may); a permit gives the controls and the
    /// key the release is sealed to.
    package func mayReidentify(
        consumer: Caller.Consumer,
        purpose id: PurposeID
    ) -> AccessDecision<ReidentificationScope> {
        guard let purpose = purposes[id] else { return .deny(Denial(.unknownPurpose, "purpose \(id) does not exist")) }
        guard grants[consumer.oin]?.contains(id) == true else {
            return .deny(Denial(.noGrant, "\(consumer.name) holds no grant for purpose \(id)"))
        }
        guard let controls = purpose.reidentification else {
            return .deny(Denial(.reidentificationNotAllowed, "purpose \(id) does not allow re-identification"))
        }
        guard let text = regions[consumer.region]?.contactgemeente?.revealKey,
            let bytes = Data(base64Encoded: text), let key = try? BoxPublicKey(bytes: Array(bytes))
        else {
            return .deny(
                Denial(
                    .noRevealKey,
                    "region \(consumer.region) registers no revealKey in the policy: nothing can be sealed to it"
                )
            )
        }
        return .permit(ReidentificationScope(purpose: id, region: consumer.region, controls: controls, revealKey: key))
    }

    /// Whether `caller` may approve or refuse a request of `requester` (region `region`) for
    /// `purpose`: one of the purpose's approvers, bound to that region if it is bound to one, and
    /// never the requester itself.
    package func mayDecide(
        _ caller: Caller,
        purpose id: PurposeID,
        region: RegionNumber,
        requester: OIN
    ) -> AccessDecision<Void> {
        guard caller.oin != requester else {
            return .deny(Denial(.selfApproval, "a request is never decided by the organisation that made it"))
        }
        guard let controls = purposes[id]?.reidentification else {
            return .deny(Denial(.reidentificationNotAllowed, "purpose \(id) no longer allows re-identification"))
        }
        let bound: RegionNumber??
        switch caller {
        case .approver(let approver): bound = .some(approver.region)
        case .auditor: bound = .some(nil)
        default: bound = nil
        }
        guard controls.approvers.contains(caller.oin), let bound else {
            return .deny(Denial(.notAnApprover, "\(caller.name) is not an approver of purpose \(id)"))
        }
        if let only = bound, only != region {
            return .deny(Denial(.notAnApprover, "\(caller.name) decides on region \(only)'s requests only"))
        }
        return .permit(())
    }

    /// The purposes that allow re-identification.
    package var reidentifyingPurposes: Set<PurposeID> {
        Set(purposes.values.filter { $0.reidentification != nil }.map(\.id))
    }

    /// The datasets whose records keep their person's identity (sealed): those a re-identifying
    /// purpose delivers.
    package var reidentifyingDatasets: Set<DatasetID> {
        Set(purposes.values.filter { $0.reidentification != nil }.flatMap { $0.fields.keys.map { DatasetID($0) } })
    }

    /// Per dataset the gateway knows, the moment before which its records no longer keep their
    /// identity: the longest retention of the re-identifying purposes that deliver it; for a
    /// dataset none delivers (any more), every record's.
    package func identityCutoffs(now: Date) -> [DatasetID: Date] {
        var cutoffs: [DatasetID: Date] = [:]
        for dataset in catalog.ids { cutoffs[dataset] = .distantFuture }
        for dataset in reidentifyingDatasets {
            let days =
                purposes.values.filter { $0.reidentification != nil && $0.fields[dataset.value] != nil }
                .map(\.retentionDays).max() ?? 0
            cutoffs[dataset] = now.addingTimeInterval(-Double(days) * 86_400)
        }
        return cutoffs
    }

    /// Per dataset the gateway knows, the moment before which its records are past retention:
    /// the longest `retentionDays` of the purposes that deliver it (a dataset no purpose delivers
    /// is kept for no purpose, so not at all).
    package func retentionCutoffs(now: Date) -> [DatasetID: Date] {
        var cutoffs: [DatasetID: Date] = [:]
        for dataset in catalog.ids {
            let days = purposes.values.filter { $0.fields[dataset.value] != nil }.map(\.retentionDays).max() ?? 0
            cutoffs[dataset] = now.addingTimeInterval(-Double(days) * 86_400)
        }
        return cutoffs
    }

    /// The purposes granted to `consumer`.
    package func grantedPurposes(of consumer: OIN) -> [PurposeID] { (grants[consumer] ?? []).sorted() }

    /// Every purpose, in id order.
    package var purposeIDs: [PurposeID] { purposes.keys.sorted() }
}

/// A problem the policy checks found, with its place in the policy document.
package struct PolicyProblem: Sendable, Equatable, CustomStringConvertible {
    package enum Severity: String, Sendable { case error, warning }
    package let severity: Severity
    /// Where in the `policy` object (prefix `policy` for the place in the configuration file).
    package let path: JSONPath
    package let message: String

    package var description: String { "\(path.components.isEmpty ? "policy" : path.description): \(message)" }
}

/// The policy's checks found problems; each names its place in the document.
package struct PolicyError: Error, CustomStringConvertible {
    package let problems: [PolicyProblem]
    package var errors: [PolicyProblem] { problems.filter { $0.severity == .error } }
    package var description: String {
        "the policy has \(errors.count) problem(s):\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// What a consumer may ask to re-identify: its region's population of one purpose, under that
/// purpose's controls, released sealed to the region's own key.
package struct ReidentificationScope: Sendable {
    package let purpose: PurposeID
    package let region: RegionNumber
    package let controls: PolicyDocument.Reidentification
    package let revealKey: BoxPublicKey
}
