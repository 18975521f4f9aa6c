import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// Every check a policy document must pass, collecting all problems (not just the first) with
/// their places, and the lookup tables the compiled ``Policy`` uses.
struct PolicyChecker {
    let document: PolicyDocument
    let reference: ReferenceData
    let catalog: DatasetCatalog

    private(set) var errors: [PolicyProblem] = []
    private(set) var warnings: [PolicyProblem] = []
    private(set) var organisations: [OIN: PolicyDocument.Organisation] = [:]
    private(set) var regions: [RegionNumber: PolicyDocument.Region] = [:]
    private(set) var routing: [MunicipalityCode: RegionNumber] = [:]
    private(set) var purposes: [PurposeID: PolicyDocument.Purpose] = [:]
    private(set) var grants: [OIN: Set<PurposeID>] = [:]
    private(set) var signingKeys: [OIN: [SigningPublicKey]] = [:]
    private var contactRegion: [OIN: RegionNumber] = [:]
    private var institutionOf: [String: OIN] = [:]

    init(document: PolicyDocument, reference: ReferenceData, catalog: DatasetCatalog) {
        self.document = document
        self.reference = reference
        self.catalog = catalog
    }

    mutating func error(_ path: JSONPath, _ message: String) {
        errors.append(PolicyProblem(severity: .error, path: path, message: message))
    }
    mutating func warning(_ path: JSONPath, _ message: String) {
        warnings.append(PolicyProblem(severity: .warning, path: path, message: message))
    }

    mutating func run() {
        checkRegions()
        checkOrganisations()
        checkPurposes()
        checkGrants()
        // A check made against every version of a dataset finds a problem of the document once per version.
        var seen = Set<String>()
        errors = errors.filter { seen.insert("\($0.path) \($0.message)").inserted }
        warnings = warnings.filter { seen.insert("\($0.path) \($0.message)").inserted }
    }

    /// The dataset as a message names it: `duo.onderwijsdeelname`, or with its version
    /// (`version 2 of duo.onderwijsdeelname`) when the gateway holds several.
    func name(_ schema: DatasetSchema) -> String {
        catalog.versions(of: schema.id).count > 1 ? "version \(schema.version) of \(schema.id)" : "\(schema.id)"
    }

    // MARK: Institutions

    /// The institution numbers of source `org`: BRIN codes, each bound to one institution, and
    /// present exactly when the source may push a dataset whose records name their institution.
    mutating func checkInstitution(_ org: PolicyDocument.Organisation, at: JSONPath) {
        let reporting = (org.datasets ?? []).filter { catalog.latest($0)?.institutionField != nil }
        let numbers = org.brin ?? []
        for (b, number) in numbers.enumerated() {
            if !RecordValidator.matches(code: number, format: "99AA") {
                error(at / "brin" / b, "\(number) is not a BRIN number (two digits, two capital letters: 25LP)")
            } else if let holder = institutionOf[number], holder != org.oin {
                error(
                    at / "brin" / b,
                    "BRIN \(number) is bound to \(holder) already; a BRIN belongs to one institution"
                )
            } else {
                institutionOf[number] = org.oin
            }
        }
        if Set(numbers).count != numbers.count { error(at / "brin", "names a BRIN twice") }
        if let dataset = reporting.first, numbers.isEmpty {
            error(
                at,
                "\(dataset) names the reporting institution (\(catalog.latest(dataset)!.institutionField!)): a source of it needs its BRIN numbers under brin"
            )
        }
        if reporting.isEmpty, org.brin != nil {
            warning(at / "brin", "none of this source's datasets names an institution; its BRIN numbers are not used")
        }
    }

    // MARK: Regions

    mutating func checkRegions() {
        let root = JSONPath([.key("regions")])
        var placeOf: [MunicipalityCode: JSONPath] = [:]
        var unnamed: [Int] = []
        for (i, region) in document.regions.enumerated() {
            let at = root / i
            if regions.updateValue(region, forKey: region.number) != nil {
                error(at / "number", "region \(region.number) is listed twice")
            }
            if reference.regions[region.number] == nil {
                error(at / "number", "region \(region.number) is not one of the 40 RMC / Doorstroompunt regions")
            }
            for (m, code) in region.municipalities.enumerated() {
                let place = at / "municipalities" / m
                if reference.municipalities[code] == nil {
                    error(place, "\(code) is not a municipality in the CBS list")
                } else if let first = placeOf[code] {
                    error(
                        place,
                        "\(code) (\(reference.municipalities[code]!.name)) is already in a region at \(first): a municipality belongs to exactly one region"
                    )
                    continue
                }
                placeOf[code] = place
                routing[code] = region.number
            }
            if region.municipalities.isEmpty {
                error(at / "municipalities", "region \(region.number) has no municipalities")
            }
            if let contact = region.contactgemeente {
                if let other = contactRegion.updateValue(region.number, forKey: contact.oin) {
                    error(
                        at / "contactgemeente" / "oin",
                        "OIN \(contact.oin) is already the contactgemeente of region \(other)"
                    )
                }
            } else {
                unnamed.append(region.number.value)
            }
        }
        for number in reference.regions.keys.sorted() where regions[number] == nil {
            error(root, "region \(number) (\(reference.regions[number]!.name)) is missing")
        }
        let homeless = reference.municipalities.keys.filter { placeOf[$0] == nil }.sorted()
        if !homeless.isEmpty {
            let names = homeless.prefix(5).map { "\($0) (\(reference.municipalities[$0]!.name))" }.joined(
                separator: ", "
            )
            error(
                root,
                "\(homeless.count) municipalit\(homeless.count == 1 ? "y is" : "ies are") in no region: \(names)\(homeless.count > 5 ? ", ..." : "")"
            )
        }
        if !unnamed.isEmpty {
            warning(
                root,
                "\(unnamed.count) region(s) name no contactgemeente and receive nothing: \(unnamed.map(String.init).joined(separator: ", "))"
            )
        }
    }

    // MARK: Organisations

    mutating func checkOrganisations() {
        let root = JSONPath([.key("organisations")])
        for (i, original) in document.organisations.enumerated() {
            var org = original
            let at = root / i
            if organisations[org.oin] != nil { error(at / "oin", "OIN \(org.oin) is listed twice") }
            if org.role != .consumer, org.role != .approver, org.region != nil {
                error(at / "region", "only a consumer or an approver has a region")
            }
            if org.role == .approver, let region = org.region, reference.regions[region] == nil {
                error(at / "region", "region \(region) is not one of the 40 RMC / Doorstroompunt regions")
            }
            if org.role != .source, org.datasets != nil || org.signingKeys != nil || org.brin != nil {
                error(at, "only a source has datasets, signing keys and BRIN numbers")
            }
            switch org.role {
            case .consumer:
                if let region = contactRegion[org.oin] {
                    if let stated = org.region, stated != region {
                        error(
                            at / "region",
                            "says region \(stated), but regions names this OIN as the contactgemeente of region \(region)"
                        )
                    }
                    org.region = region
                } else {
                    error(
                        at,
                        "consumer \(org.oin) is the contactgemeente of no region (name it under regions[].contactgemeente)"
                    )
                }
            case .source:
                let datasets = org.datasets ?? []
                if datasets.isEmpty { error(at, "a source needs at least one dataset") }
                for (d, dataset) in datasets.enumerated() where catalog.latest(dataset) == nil {
                    error(at / "datasets" / d, "unknown dataset \(dataset) (known: \(knownDatasets))")
                }
                var keys: [SigningPublicKey] = []
                for (k, text) in (org.signingKeys ?? []).enumerated() {
                    if let data = Data(base64Encoded: text), let key = try? SigningPublicKey(bytes: Array(data)) {
                        keys.append(key)
                    } else {
                        error(at / "signingKeys" / k, "not a base64 Ed25519 public key")
                    }
                }
                if keys.isEmpty, (org.signingKeys ?? []).isEmpty {
                    error(at, "a source needs at least one signing key")
                }
                signingKeys[org.oin] = keys
                checkInstitution(org, at: at)
            case .auditor, .monitor, .approver:
                break
            }
            organisations[org.oin] = org
        }
        for (i, region) in document.regions.enumerated() {
            guard let contact = region.contactgemeente else { continue }
            if let key = contact.revealKey,
                Data(base64Encoded: key).flatMap({ try? BoxPublicKey(bytes: Array($0)) }) == nil
            {
                error(
                    JSONPath([.key("regions"), .index(i), .key("contactgemeente"), .key("revealKey")]),
                    "not a base64 X25519 public key"
                )
            }
            let at = JSONPath([.key("regions"), .index(i), .key("contactgemeente"), .key("oin")])
            switch organisations[contact.oin]?.role {
            case nil:
                error(at, "unknown OIN \(contact.oin): list the contactgemeente under organisations with role consumer")
            case .consumer?: break
            case let role?: error(at, "OIN \(contact.oin) is a \(role.rawValue), not a consumer")
            }
        }
    }

    var knownDatasets: String { catalog.ids.map(\.value).joined(separator: ", ") }

    // MARK: Purposes

    mutating func checkPurposes() {
        let root = JSONPath([.key("purposes")])
        for (i, purpose) in document.purposes.enumerated() {
            let at = root / i
            if purposes.updateValue(purpose, forKey: purpose.id) != nil {
                error(at / "id", "purpose \(purpose.id) is listed twice")
            }
            if purpose.legalBasis.trimmingCharacters(in: .whitespaces).isEmpty {
                error(at / "legalBasis", "every purpose names its legal basis")
            }
            if purpose.retentionDays < 1 { error(at / "retentionDays", "must be at least 1 day") }
            if let days = purpose.collectWithinWorkingDays, !(1...60).contains(days) {
                error(at / "collectWithinWorkingDays", "must be 1 to 60 working days")
            }
            let population = catalog.versions(of: purpose.populationDataset)
            if population.isEmpty {
                error(
                    at / "populationDataset",
                    "unknown dataset \(purpose.populationDataset) (known: \(knownDatasets))"
                )
                continue
            }
            if purpose.fields[purpose.populationDataset.value] == nil {
                error(at / "fields", "no fields for the population dataset \(purpose.populationDataset)")
            }
            if purpose.population.isEmpty {
                error(
                    at / "population",
                    "a population needs at least one condition (everyone in a region is never a purpose)"
                )
            }
            // Records of every version held are in the store: a condition holds for each.
            for (c, condition) in purpose.population.enumerated() {
                for schema in population { check(condition, against: schema, at: at / "population" / c) }
            }
            for (dataset, fields) in purpose.fields.sorted(by: { $0.key < $1.key }) {
                let place = at / "fields" / dataset
                let versions = catalog.versions(of: DatasetID(dataset))
                guard !versions.isEmpty else {
                    error(place, "unknown dataset \(dataset) (known: \(knownDatasets))")
                    continue
                }
                let named = purpose.fieldsByVersion[dataset] ?? [:]
                // `fields` covers every version that fieldsByVersion does not name.
                for schema in versions where named[String(schema.version)] == nil {
                    check(fields: fields, of: schema, at: place, versionNamed: false)
                }
            }
            for (dataset, versions) in purpose.fieldsByVersion.sorted(by: { $0.key < $1.key }) {
                let place = at / "fieldsByVersion" / dataset
                guard purpose.fields[dataset] != nil else {
                    error(
                        place,
                        "\(dataset) is not under fields: a purpose delivers a dataset by fields, and fieldsByVersion says where a version differs"
                    )
                    continue
                }
                for (version, fields) in versions.sorted(by: { $0.key < $1.key }) {
                    guard let number = Int(version), number >= 1, String(number) == version else {
                        error(place / version, "\(version) is not a version number (1, 2, ...)")
                        continue
                    }
                    guard let schema = catalog.schema(DatasetID(dataset), version: number) else {
                        // Records of a version no longer held may still be stored; no file checks these names.
                        warning(
                            place / version,
                            "the gateway holds no version \(number) of \(dataset): these fields apply to its records already stored, and are not checked"
                        )
                        continue
                    }
                    check(fields: fields, of: schema, at: place / version, versionNamed: true)
                }
            }
            if let controls = purpose.reidentification {
                checkReidentification(controls, at: at / "reidentification")
            }
            for (dataset, conditions) in purpose.conditions.sorted(by: { $0.key < $1.key }) {
                let place = at / "conditions" / dataset
                let versions = catalog.versions(of: DatasetID(dataset))
                guard !versions.isEmpty else {
                    error(place, "unknown dataset \(dataset) (known: \(knownDatasets))")
                    continue
                }
                if purpose.fields[dataset] == nil {
                    error(place, "conditions on \(dataset), which the purpose does not deliver")
                }
                for (c, condition) in conditions.enumerated() {
                    for schema in versions { check(condition, against: schema, at: place / c) }
                }
            }
        }
    }

    /// The fields a purpose delivers of one version of a dataset: fields of that version, never
    /// the BSN, none twice. `versionNamed`: the list is the version's own (under fieldsByVersion),
    /// not `fields` applied to it.
    mutating func check(fields: [String], of schema: DatasetSchema, at place: JSONPath, versionNamed: Bool) {
        if fields.isEmpty { error(place, "lists no fields: leave the dataset out instead") }
        var seen = Set<String>()
        for (f, field) in fields.enumerated() {
            if field == schema.bsnField {
                error(place / f, "the BSN is never delivered")
            } else if schema.field(named: field) == nil {
                let known = "(known: \(schema.deliverableFieldNames.joined(separator: ", ")))"
                if versionNamed || catalog.versions(of: schema.id).count == 1 {
                    error(place / f, "unknown field \(field) in \(name(schema)) \(known)")
                } else {
                    error(
                        place / f,
                        "\(name(schema)) has no field \(field) \(known): name the fields of version \(schema.version) under fieldsByVersion"
                    )
                }
            }
            if !seen.insert(field).inserted { error(place / f, "\(field) is listed twice") }
        }
    }

    /// The controls of a re-identifying purpose: a closed list of well-formed reasons, approvers
    /// that exist and may decide, and limits that let something through.
    mutating func checkReidentification(_ controls: PolicyDocument.Reidentification, at place: JSONPath) {
        if controls.reasons.isEmpty { error(place / "reasons", "name at least one reason code") }
        var seen = Set<String>()
        for (r, reason) in controls.reasons.enumerated() {
            if !Self.isReasonCode(reason) {
                error(place / "reasons" / r, "a reason code is 1-40 lower-case letters, digits and hyphens")
            }
            if !seen.insert(reason).inserted { error(place / "reasons" / r, "\(reason) is listed twice") }
        }
        if controls.approvers.isEmpty {
            error(place / "approvers", "name at least one approver: a request is never decided by its requester")
        }
        for (a, oin) in controls.approvers.enumerated() {
            switch document.organisations.first(where: { $0.oin == oin })?.role {
            case nil: error(place / "approvers" / a, "unknown OIN \(oin): not under organisations")
            case .approver?, .auditor?: break
            case let role?:
                error(place / "approvers" / a, "\(oin) is a \(role.rawValue); an approver has role approver or auditor")
            }
        }
        if controls.monthlyQuota < 1 { error(place / "monthlyQuota", "must be at least 1") }
        if !(1...10_000).contains(controls.maxPerRequest) {
            error(place / "maxPerRequest", "must be 1 to 10000")
        } else if controls.maxPerRequest > controls.monthlyQuota {
            warning(place / "maxPerRequest", "is above monthlyQuota: no request can be that large")
        }
        if !(1...720).contains(controls.expiresAfterHours) {
            error(place / "expiresAfterHours", "must be 1 to 720 (30 days)")
        }
    }

    /// 1-40 characters of `a-z`, `0-9` and `-`.
    static func isReasonCode(_ text: String) -> Bool {
        (1...40).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    mutating func check(_ condition: RowCondition, against schema: DatasetSchema, at place: JSONPath) {
        func bounds(_ low: Int?, _ high: Int?) {
            if low == nil, high == nil { error(place, "give a lower bound, an upper bound or both") }
            if let l = low, l < 0 { error(place, "a bound cannot be negative") }
            if let l = low, let h = high, l > h {
                error(place, "the lower bound \(l) is above the upper bound \(h): no record can meet it")
            }
        }
        if case .anyOf(let alternatives) = condition {
            if alternatives.count < 2 { error(place / "anyOf", "anyOf needs at least two conditions") }
            for (k, alternative) in alternatives.enumerated() {
                check(alternative, against: schema, at: place / "anyOf" / k)
            }
            return
        }
        let name = condition.fieldNames[0]
        guard let spec = schema.field(named: name) else {
            error(place / "field", "unknown field \(name) in \(self.name(schema))")
            return
        }
        if spec.type == .bsn {
            error(place / "field", "no condition may read the BSN")
            return
        }
        switch condition {
        case .equals(_, let value):
            switch (spec.type, value) {
            case (.boolean, .boolean), (.date, .text), (.month, .text), (.municipality, .text), (.code, .text): break
            case (.integer(let range), .integer(let n)):
                if !range.contains(n) {
                    error(place / "equals", "\(n) is outside \(name)'s range \(range.lowerBound)-\(range.upperBound)")
                }
            case (.enumeration(let allowed), .text(let s)):
                if !allowed.contains(s) {
                    error(place / "equals", "\"\(s)\" is not a value of \(name) (\(allowed.joined(separator: ", ")))")
                }
            default:
                error(place / "equals", "\(value) does not fit \(name), a field of type \(spec.type)")
            }
        case .oneOf(_, let values):
            if values.isEmpty { error(place / "oneOf", "lists no values: no record can meet it") }
            switch spec.type {
            case .enumeration(let allowed):
                for (k, v) in values.enumerated() where !allowed.contains(v) {
                    error(
                        place / "oneOf" / k,
                        "\"\(v)\" is not a value of \(name) (\(allowed.joined(separator: ", ")))"
                    )
                }
            case .code, .municipality: break
            default: error(place / "oneOf", "oneOf applies to text fields; \(name) is of type \(spec.type)")
            }
        case .age(_, let low, let high):
            if spec.type != .date {
                error(place / "field", "an age is taken from a date field; \(name) is of type \(spec.type)")
            }
            bounds(low, high)
        case .monthsAgo(_, let low, let high):
            if spec.type != .date, spec.type != .month {
                error(place / "field", "months are counted from a date or month field; \(name) is of type \(spec.type)")
            }
            bounds(low, high)
        case .anyOf:
            break
        }
    }

    // MARK: Grants

    mutating func checkGrants() {
        let root = JSONPath([.key("grants")])
        for (i, grant) in document.grants.enumerated() {
            let at = root / i
            switch organisations[grant.consumer]?.role {
            case nil: error(at / "consumer", "unknown OIN \(grant.consumer): not under organisations")
            case .consumer?: break
            case let role?:
                error(at / "consumer", "\(grant.consumer) is a \(role.rawValue); only consumers receive grants")
            }
            if grant.purposes.isEmpty { error(at / "purposes", "the grant names no purpose") }
            var seen = Set<PurposeID>()
            for (p, purpose) in grant.purposes.enumerated() {
                if purposes[purpose] == nil {
                    error(
                        at / "purposes" / p,
                        "unknown purpose \(purpose) (known: \(purposes.keys.sorted().map(\.value).joined(separator: ", ")))"
                    )
                }
                if !seen.insert(purpose).inserted { warning(at / "purposes" / p, "\(purpose) is granted twice") }
            }
            grants[grant.consumer, default: []].formUnion(grant.purposes)
        }
        for (i, purpose) in document.purposes.enumerated()
        where !grants.values.contains(where: { $0.contains(purpose.id) }) {
            warning(JSONPath([.key("purposes"), .index(i)]), "purpose \(purpose.id) is granted to no consumer")
        }
        // A region granted a re-identifying purpose without a reveal key can ask, but is refused.
        for (i, region) in document.regions.enumerated() {
            guard let contact = region.contactgemeente, contact.revealKey == nil else { continue }
            let reidentifying = (grants[contact.oin] ?? []).filter { purposes[$0]?.reidentification != nil }
            guard !reidentifying.isEmpty else { continue }
            warning(
                JSONPath([.key("regions"), .index(i), .key("contactgemeente")]),
                "region \(region.number) holds re-identifying purpose(s) \(reidentifying.sorted().map(\.value).joined(separator: ", ")) but registers no revealKey: its requests are refused"
            )
        }
    }
}
