import VangnetCore
import VangnetCrypto

/// An organisation the policy knows, narrowed to its role: each role's type holds what that role
/// needs and nothing optional. The policy makes them once (``Policy/identify(_:)``), so a caller
/// that reaches a pipeline is a checked one: a source has its datasets and keys, a consumer its
/// region.
package enum Caller: Sendable, Equatable {
    case source(Source)
    case consumer(Consumer)
    case auditor(Auditor)
    case monitor(Monitor)
    case approver(Approver)

    /// A source organisation (DUO, UWV): pushes batches of the datasets it is registered for,
    /// signed with one of its keys.
    package struct Source: Sendable, Equatable {
        package let oin: OIN
        package let name: String
        package let datasets: [DatasetID]
        package let signingKeys: [SigningPublicKey]
        /// The BRIN numbers of an institution: the values its records may give the dataset's
        /// institution field. Empty for a source that is not an institution.
        package let institutions: [String]
        package var role: Role { .source }

        package init(
            oin: OIN,
            name: String,
            datasets: [DatasetID],
            signingKeys: [SigningPublicKey],
            institutions: [String] = []
        ) {
            self.oin = oin
            self.name = name
            self.datasets = datasets
            self.signingKeys = signingKeys
            self.institutions = institutions
        }
    }

    /// A consumer: the contactgemeente of one region, pulling the purposes it holds grants for.
    package struct Consumer: Sendable, Equatable {
        package let oin: OIN
        package let name: String
        package let region: RegionNumber
        package var role: Role { .consumer }
    }

    /// The security officer: reads and verifies the audit log, asks the policy about anyone.
    package struct Auditor: Sendable, Equatable {
        package let oin: OIN
        package let name: String
        package var role: Role { .auditor }
    }

    /// Operations: reads the metrics.
    package struct Monitor: Sendable, Equatable {
        package let oin: OIN
        package let name: String
        package var role: Role { .monitor }
    }

    /// Decides on re-identification requests of the purposes that name it; with a region, only on
    /// that region's requests (a contactgemeente's privacy officer).
    package struct Approver: Sendable, Equatable {
        package let oin: OIN
        package let name: String
        package let region: RegionNumber?
        package var role: Role { .approver }
    }

    package var oin: OIN {
        switch self {
        case .source(let s): s.oin
        case .consumer(let c): c.oin
        case .auditor(let a): a.oin
        case .monitor(let m): m.oin
        case .approver(let a): a.oin
        }
    }

    package var name: String {
        switch self {
        case .source(let s): s.name
        case .consumer(let c): c.name
        case .auditor(let a): a.name
        case .monitor(let m): m.name
        case .approver(let a): a.name
        }
    }

    package var role: Role {
        switch self {
        case .source: .source
        case .consumer: .consumer
        case .auditor: .auditor
        case .monitor: .monitor
        case .approver: .approver
        }
    }

    /// The caller for a checked organisation; `nil` for a consumer without a region or a source
    /// without keys, which the policy checks never let through.
    init?(_ organisation: PolicyDocument.Organisation, signingKeys: [SigningPublicKey]) {
        let (oin, name) = (organisation.oin, organisation.name)
        switch organisation.role {
        case .source:
            self = .source(
                Source(
                    oin: oin,
                    name: name,
                    datasets: organisation.datasets ?? [],
                    signingKeys: signingKeys,
                    institutions: organisation.brin ?? []
                )
            )
        case .consumer:
            guard let region = organisation.region else { return nil }
            self = .consumer(Consumer(oin: oin, name: name, region: region))
        case .auditor: self = .auditor(Auditor(oin: oin, name: name))
        case .monitor: self = .monitor(Monitor(oin: oin, name: name))
        case .approver: self = .approver(Approver(oin: oin, name: name, region: organisation.region))
        }
    }
}
