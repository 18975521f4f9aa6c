import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// The checked, compiled access policy. Deny by default: what no grant names is refused.
public struct Policy: Sendable {
    public let document: PolicyDocument
    /// Fingerprint of the policy document: the first 16 bytes of BLAKE2b-256 over its canonical
    /// JSON (sorted keys), in hex. Audit entries and deliveries name the policy by it.
    public let fingerprint: String
    private let organisations: [OIN: PolicyDocument.Organisation]
    private let purposes: [PurposeID: PolicyDocument.Purpose]
    private let grants: [OIN: Set<PurposeID>]
    private let signingKeys: [OIN: [SigningPublicKey]]
    private let schemas: [DatasetID: DatasetSchema]

    /// Checks the document against the reference data and the dataset schemas.
    /// - Throws: ``PolicyError`` listing every problem found, each with its place in the document.
    public init(document: PolicyDocument, reference: ReferenceData = .embedded, schemas: [DatasetID: DatasetSchema] = DatasetSchema.defaults) throws {
        var problems: [String] = []
        var organisations: [OIN: PolicyDocument.Organisation] = [:]
        var signingKeys: [OIN: [SigningPublicKey]] = [:]
        for (i, org) in document.organisations.enumerated() {
            let at = "organisations[\(i)] (\(org.oin))"
            if organisations.updateValue(org, forKey: org.oin) != nil { problems.append("\(at): OIN listed twice") }
            switch org.role {
            case .consumer:
                if let region = org.region {
                    if reference.regions[region] == nil { problems.append("\(at): region \(region) is not in the reference list") }
                } else { problems.append("\(at): a consumer needs a region") }
            case .source:
                for dataset in org.datasets ?? [] where schemas[dataset] == nil { problems.append("\(at): unknown dataset \(dataset)") }
                var keys: [SigningPublicKey] = []
                for (k, text) in (org.signingKeys ?? []).enumerated() {
                    if let data = Data(base64Encoded: text), let key = try? SigningPublicKey(bytes: Array(data)) { keys.append(key) }
                    else { problems.append("\(at).signingKeys[\(k)]: not a base64 Ed25519 public key") }
                }
                if keys.isEmpty { problems.append("\(at): a source needs at least one signing key") }
                signingKeys[org.oin] = keys
            case .auditor:
                break
            }
        }
        var purposes: [PurposeID: PolicyDocument.Purpose] = [:]
        for (i, purpose) in document.purposes.enumerated() {
            let at = "purposes[\(i)] (\(purpose.id))"
            if purposes.updateValue(purpose, forKey: purpose.id) != nil { problems.append("\(at): id listed twice") }
            guard let population = schemas[purpose.populationDataset] else {
                problems.append("\(at): unknown population dataset \(purpose.populationDataset)")
                continue
            }
            if purpose.fields[purpose.populationDataset.value] == nil { problems.append("\(at): no fields for the population dataset") }
            for (c, condition) in purpose.population.enumerated() {
                if population.field(named: condition.field) == nil {
                    problems.append("\(at).population[\(c)]: unknown field \(condition.field) in \(population.id)")
                }
            }
            for (dataset, fields) in purpose.fields {
                guard let schema = schemas[DatasetID(dataset)] else { problems.append("\(at).fields: unknown dataset \(dataset)"); continue }
                for field in fields where !schema.deliverableFieldNames.contains(field) {
                    problems.append("\(at).fields.\(dataset): \(field == schema.bsnField ? "the BSN is never delivered" : "unknown field \(field)")")
                }
            }
        }
        var grants: [OIN: Set<PurposeID>] = [:]
        for (i, grant) in document.grants.enumerated() {
            let at = "grants[\(i)] (\(grant.consumer))"
            if organisations[grant.consumer]?.role != .consumer { problems.append("\(at): not a consumer organisation") }
            for p in grant.purposes where purposes[p] == nil { problems.append("\(at): unknown purpose \(p)") }
            grants[grant.consumer, default: []].formUnion(grant.purposes)
        }
        guard problems.isEmpty else { throw PolicyError(problems: problems) }
        self.document = document
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        self.fingerprint = Hex.encode(GenericHash.hash(Array(try encoder.encode(document)), outputLength: 32).prefix(16))
        self.organisations = organisations
        self.purposes = purposes
        self.grants = grants
        self.signingKeys = signingKeys
        self.schemas = schemas
    }

    /// The organisation behind a verified certificate's OIN, or a denial.
    public func identify(_ oin: OIN) -> AccessDecision<PolicyDocument.Organisation> {
        guard let org = organisations[oin] else { return .deny(Denial(.unknownOrganisation, "OIN \(oin) is not a known organisation")) }
        return .permit(org)
    }

    /// Whether `source` may push `dataset`, signed by the key with `keyID`.
    public func mayPush(source: PolicyDocument.Organisation, dataset: DatasetID, keyID: String) -> AccessDecision<(SigningPublicKey, DatasetSchema)> {
        guard source.role == .source else { return .deny(Denial(.wrongRole, "\(source.name) is not a source organisation")) }
        guard (source.datasets ?? []).contains(dataset), let schema = schemas[dataset] else {
            // The dataset id comes from the envelope: named only if it is one the gateway knows.
            let named = schemas[dataset] != nil ? "dataset \(dataset)" : "this dataset (unknown to the gateway)"
            return .deny(Denial(.datasetNotAllowed, "\(source.name) may not push \(named)"))
        }
        guard let key = signingKeys[source.oin]?.first(where: { $0.keyID == keyID }) else {
            return .deny(Denial(.unknownSigningKey, "signing key \(keyID) is not registered for \(source.name)"))
        }
        return .permit((key, schema))
    }

    /// Whether `consumer` may pull `purpose`; a permit says what it receives.
    public func mayPull(consumer: PolicyDocument.Organisation, purpose id: PurposeID) -> AccessDecision<DeliveryScope> {
        guard consumer.role == .consumer else { return .deny(Denial(.wrongRole, "\(consumer.name) is not a consumer organisation")) }
        guard let purpose = purposes[id] else { return .deny(Denial(.unknownPurpose, "purpose \(id) does not exist")) }
        guard grants[consumer.oin]?.contains(id) == true else {
            return .deny(Denial(.noGrant, "\(consumer.name) holds no grant for purpose \(id)"))
        }
        guard let region = consumer.region else { return .deny(Denial(.noRegion, "\(consumer.name) has no region")) }
        return .permit(DeliveryScope(purpose: purpose, region: region))
    }

    /// The purposes granted to `consumer`.
    public func grantedPurposes(of consumer: OIN) -> [PurposeID] { (grants[consumer] ?? []).sorted() }
}

/// The policy's checks found problems; each names its place in the document.
public struct PolicyError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "the policy has \(problems.count) problem(s):\n" + problems.map { "  - \($0)" }.joined(separator: "\n") }
}
