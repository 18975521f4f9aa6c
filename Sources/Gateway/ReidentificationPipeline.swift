import AccessPolicy
import AuditLog
import Foundation
import Pseudonymisation
import Records
import Storage
import VangnetCore
import VangnetCrypto

/// Controlled re-identification: a contactgemeente asks who the people behind some of its
/// pseudonyms are, for a purpose that allows it, with a reason and a case reference; an approver
/// who is not the requester decides; the approved BSNs are released sealed to the
/// contactgemeente's own key. Every step and every refusal is audited (counts, the reason code,
/// a hash of the case reference; never a BSN or a pseudonym) before anything is answered.
package struct ReidentificationPipeline: Sendable {
    let state: GatewayState
    let store: any RecordStore
    let clock: any WallClock
    let keeper: DeliveryKeeper

    /// What a request's body says.
    package struct Ask: Decodable, Sendable {
        package let purpose: PurposeID
        package let pseudonyms: [String]
        package let reason: String
        package let caseReference: String
    }

    /// An approver's decision.
    package struct Decision: Decodable, Sendable {
        package enum Verdict: String, Decodable, Sendable { case approve, refuse }
        package let decision: Verdict
        package let reason: String
    }

    /// What a release answers: per pseudonym, its BSN sealed to the region's reveal key, or why
    /// it could not be released.
    package struct Release: Encodable, Sendable {
        package struct Sealed: Encodable, Sendable {
            package let pseudonym: String
            /// Base64 of a sealed box (X25519, `crypto_box_seal`) of
            /// `vangnet-reveal-v1\n<pseudonym>\n<BSN>`.
            package let sealed: String
        }
        package struct Unavailable: Encodable, Sendable {
            package let pseudonym: String
            /// `not_in_population` (the region no longer receives this person for the purpose) or
            /// `identity_not_held` (no record of the person keeps its identity under a held key).
            package let reason: String
        }
        package let id: String
        package let purpose: PurposeID
        package let region: RegionNumber
        /// The key the BSNs are sealed to: ``BoxPublicKey/keyID`` of the region's reveal key.
        package let revealKeyId: String
        package let released: [Sealed]
        package let unavailable: [Unavailable]
    }

    /// The longest case reference, in characters.
    static let caseReferenceLimit = 100

    /// Why a case reference may not be stored, or `nil`: it has 1 to 100 characters, no control
    /// character, and no number that could be a BSN: 8 or more digits in a row, or 9 or more
    /// digits written with single spaces, dots or hyphens between them (`1234.56.782`).
    /// `RMC-2026-0042` passes.
    package static func caseReferenceProblem(_ text: String) -> String? {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty, text.count <= caseReferenceLimit else {
            return "the case reference must be 1 to \(caseReferenceLimit) characters"
        }
        guard text.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            return "the case reference may hold no control characters"
        }
        var (run, group, afterSeparator) = (0, 0, false)
        for scalar in text.unicodeScalars {
            if ("0"..."9").contains(scalar) {
                (run, group, afterSeparator) = (run + 1, group + 1, false)
                if run >= 8 || group >= 9 {
                    return
                        "the case reference holds a number that could be a BSN (8 digits in a row, or 9 with separators)"
                }
            } else if run > 0, !afterSeparator, scalar == " " || scalar == "." || scalar == "-" {
                (run, afterSeparator) = (0, true)
            } else {
                (run, group, afterSeparator) = (0, 0, false)
            }
        }
        return nil
    }

    /// A delivery pseudonym's form: `vp1.e<epoch>.<32 hex digits>`.
    static func isPseudonym(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[0] == "vp1" && parts[1].first == "e" && UInt32(parts[1].dropFirst()) != nil
            && parts[2].count == 32 && parts[2].allSatisfy(\.isHexDigit) && parts[2] == parts[2].lowercased()
    }

    /// The month `YYYYMM` (Europe/Amsterdam) of `time`, and the start of the next one.
    static func month(of time: Date) -> (month: Int, next: Date) {
        let day = CalendarDate.inAmsterdam(time)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Amsterdam")!
        let next =
            calendar.date(
                from: DateComponents(year: day.month == 12 ? day.year + 1 : day.year, month: day.month % 12 + 1, day: 1)
            ) ?? time
        return (day.year * 100 + day.month, next)
    }

    /// `case:<first 16 hex digits of BLAKE2b-256>`: the audit's name for a case reference.
    static func caseHash(_ reference: String) -> String {
        Hex.encode(Array(GenericHash.hash(Array(reference.utf8), outputLength: 32).prefix(8)))
    }

    static func object(_ request: ReidentificationRequest) -> String {
        "reidentification:\(request.id)/reason:\(request.reason)/case:\(caseHash(request.caseReference))"
    }

    private func event(
        _ action: AuditEvent.Action,
        caller: Caller,
        object: String,
        outcome: AuditEvent.Outcome = .success,
        reason: String? = nil,
        counts: [String: Int] = [:],
        region: RegionNumber?,
        purpose: PurposeID?,
        at now: Date
    ) -> AuditEvent {
        AuditEvent(
            time: now,
            actor: caller.oin,
            role: caller.role,
            action: action,
            object: object,
            outcome: outcome,
            reason: reason,
            counts: counts,
            region: region,
            purpose: purpose
        )
    }

    /// Audits a refusal and throws it.
    private func refuse(
        _ code: GatewayRefusal.Code,
        _ message: String,
        action: AuditEvent.Action,
        caller: Caller,
        object: String,
        counts: [String: Int] = [:],
        region: RegionNumber?,
        purpose: PurposeID?,
        at now: Date,
        retryAfter: Int? = nil
    ) async throws -> Never {
        try await store.appendAudit(
            event(
                action,
                caller: caller,
                object: object,
                outcome: .refused,
                reason: code.rawValue,
                counts: counts,
                region: region,
                purpose: purpose,
                at: now
            )
        )
        throw GatewayRefusal(code, message, retryAfter: retryAfter)
    }

    /// Audits a refusal of a step on a stored request (its object, size, region and purpose) and
    /// throws it.
    private func refuse(
        _ code: GatewayRefusal.Code,
        _ message: String,
        action: AuditEvent.Action,
        caller: Caller,
        about request: ReidentificationRequest,
        at now: Date
    ) async throws -> Never {
        try await refuse(
            code,
            message,
            action: action,
            caller: caller,
            object: Self.object(request),
            counts: ["people": request.pseudonyms.count],
            region: request.region,
            purpose: request.purpose,
            at: now
        )
    }

    // MARK: Asking

    /// Records a request, waiting for its decision; or refuses it (audited).
    package func request(_ ask: Ask, caller consumer: Caller.Consumer) async throws -> ReidentificationRequest {
        let now = clock.now()
        let active = state.current
        let policy = active.policy
        let caller = Caller.consumer(consumer)
        let known = policy.purpose(ask.purpose) != nil
        let object = "reidentification:(new)/purpose:\(known ? ask.purpose.value : "(unknown)")"
        let counts = ["people": ask.pseudonyms.count]
        func refuse(_ code: GatewayRefusal.Code, _ message: String, retryAfter: Int? = nil) async throws -> Never {
            try await self.refuse(
                code,
                message,
                action: .reidentificationRequest,
                caller: caller,
                object: object,
                counts: counts,
                region: consumer.region,
                purpose: known ? ask.purpose : nil,
                at: now,
                retryAfter: retryAfter
            )
        }
        let scope: ReidentificationScope
        switch policy.mayReidentify(consumer: consumer, purpose: ask.purpose) {
        case .deny(let denial): try await refuse(GatewayRefusal.Code(denial.code), denial.reason)
        case .permit(let permitted): scope = permitted
        }
        let controls = scope.controls
        guard controls.reasons.contains(ask.reason) else {
            try await refuse(
                .unknownReason,
                "the reason is not one purpose \(ask.purpose) allows (\(controls.reasons.joined(separator: ", ")))"
            )
        }
        if let problem = Self.caseReferenceProblem(ask.caseReference) {
            try await refuse(.caseReferenceRefused, problem)
        }
        guard !ask.pseudonyms.isEmpty else { try await refuse(.bodyMalformed, "pseudonyms lists no pseudonym") }
        guard ask.pseudonyms.count <= controls.maxPerRequest else {
            try await refuse(
                .tooManyPseudonyms,
                "a request of purpose \(ask.purpose) names at most \(controls.maxPerRequest) pseudonyms"
            )
        }
        if let bad = ask.pseudonyms.firstIndex(where: { !Self.isPseudonym($0) }) {
            try await refuse(.bodyMalformed, "pseudonyms[\(bad)] is not a pseudonym (vp1.e<epoch>.<32 hex digits>)")
        }
        if Set(ask.pseudonyms).count != ask.pseudonyms.count {
            try await refuse(.bodyMalformed, "pseudonyms names a pseudonym twice")
        }
        try await keeper.bringUpToDate(store: store, active: active, now: now)
        let stream = DeliveryStream(region: scope.region, purpose: ask.purpose)
        let subjects = try await store.subjects(ask.pseudonyms, in: stream)
        let outside = ask.pseudonyms.indices.filter { subjects[ask.pseudonyms[$0]] == nil }
        guard outside.isEmpty else {
            try await refuse(
                .notInPopulation,
                "\(outside.count) pseudonym(s) are not in region \(scope.region)'s population for \(ask.purpose): pseudonyms[\(outside.prefix(10).map(String.init).joined(separator: ", "))]"
            )
        }
        let (month, nextMonth) = Self.month(of: now)
        let request = ReidentificationRequest(
            id: "rq-" + Hex.encode(Sodium.randomBytes(16)),
            region: scope.region,
            purpose: ask.purpose,
            requester: consumer.oin,
            reason: ask.reason,
            caseReference: ask.caseReference,
            pseudonyms: ask.pseudonyms,
            month: month,
            createdAt: now,
            expiresAt: now.addingTimeInterval(Double(controls.expiresAfterHours) * 3600)
        )
        let made = event(
            .reidentificationRequest,
            caller: caller,
            object: Self.object(request),
            counts: counts,
            region: scope.region,
            purpose: ask.purpose,
            at: now
        )
        let quota = controls.monthlyQuota
        let refusedEvent: @Sendable (Int) -> AuditEvent = { used in
            AuditEvent(
                time: now,
                actor: consumer.oin,
                role: .consumer,
                action: .reidentificationRequest,
                object: object,
                outcome: .refused,
                reason: GatewayRefusal.Code.quotaExceeded.rawValue,
                counts: ["people": ask.pseudonyms.count, "used": used, "quota": quota],
                region: scope.region,
                purpose: ask.purpose
            )
        }
        if let used = try await store.createReidentification(request, quota: quota, audit: made, refused: refusedEvent)
        {
            throw GatewayRefusal(
                .quotaExceeded,
                "region \(scope.region) has asked for \(used) of its \(quota) people this month for \(ask.purpose); \(ask.pseudonyms.count) more would exceed the quota",
                retryAfter: max(1, Int(nextMonth.timeIntervalSince(now).rounded(.up)))
            )
        }
        return request
    }

    // MARK: Reading

    /// Whether `caller` may see `request`: its region's contactgemeente, an approver of its
    /// purpose (of its region, if bound to one), or the auditor.
    static func maySee(_ request: ReidentificationRequest, caller: Caller, policy: Policy) -> Bool {
        switch caller {
        case .consumer(let consumer): return consumer.region == request.region
        case .auditor: return true
        case .approver(let approver):
            guard policy.purpose(request.purpose)?.reidentification?.approvers.contains(approver.oin) == true else {
                return false
            }
            return approver.region.map { $0 == request.region } ?? true
        case .source, .monitor: return false
        }
    }

    /// The request `id` as `caller` may see it (expired first if its time ran out); `not_found`
    /// for a request that does not exist or is not the caller's to see.
    package func show(_ id: String, caller: Caller) async throws -> ReidentificationRequest {
        let policy = state.current.policy
        guard var request = try await store.reidentification(id), Self.maySee(request, caller: caller, policy: policy)
        else { throw GatewayRefusal(.notFound, "no re-identification request of that id is yours to see") }
        if let expired = try await expireIfOverdue(request) { request = expired }
        return request
    }

    /// The requests `caller` may see, newest first (in `state` if given).
    package func list(caller: Caller, state wanted: ReidentificationState?) async throws -> [ReidentificationRequest] {
        let policy = state.current.policy
        try await expireOverdue()
        let region: RegionNumber? =
            switch caller {
            case .consumer(let c): c.region
            case .approver(let a): a.region
            default: nil
            }
        return try await store.reidentifications(state: wanted, region: region, limit: 1_000)
            .filter { Self.maySee($0, caller: caller, policy: policy) }
    }

    // MARK: Deciding

    /// Approves or refuses a waiting request (audited either way).
    package func decide(_ id: String, _ decision: Decision, caller: Caller) async throws -> ReidentificationRequest {
        let now = clock.now()
        let policy = state.current.policy
        guard let found = try await store.reidentification(id) else {
            throw GatewayRefusal(.notFound, "no re-identification request of that id")
        }
        let object = Self.object(found)
        func refuse(_ code: GatewayRefusal.Code, _ message: String) async throws -> Never {
            try await self.refuse(
                code,
                message,
                action: .reidentificationDecision,
                caller: caller,
                about: found,
                at: now
            )
        }
        if case .deny(let denial) = policy.mayDecide(
            caller,
            purpose: found.purpose,
            region: found.region,
            requester: found.requester
        ) {
            try await refuse(GatewayRefusal.Code(denial.code), denial.reason)
        }
        if let problem = Self.caseReferenceProblem(decision.reason) {
            try await refuse(.caseReferenceRefused, problem.replacingOccurrences(of: "case reference", with: "reason"))
        }
        if try await expireIfOverdue(found) != nil || found.state == .expired {
            try await refuse(.requestExpired, "the request waited past \(found.expiresAt) for its decision")
        }
        let approve = decision.decision == .approve
        let decider = caller.oin
        let change = try await store.changeReidentification(
            id,
            from: .pending,
            to: { request in
                request.state = approve ? .approved : .refused
                (request.decidedBy, request.decidedAt, request.decisionReason) = (decider, now, decision.reason)
            },
            audit: { request in
                AuditEvent(
                    time: now,
                    actor: decider,
                    role: caller.role,
                    action: .reidentificationDecision,
                    object: object,
                    outcome: .success,
                    reason: approve ? "approved" : "refused",
                    counts: ["people": request.pseudonyms.count],
                    region: request.region,
                    purpose: request.purpose
                )
            }
        )
        switch change {
        case .done(let request): return request
        case .notIn(let state):
            try await refuse(.requestDecided, "the request is \(state.rawValue), not waiting for a decision")
        case .notFound: throw GatewayRefusal(.notFound, "no re-identification request of that id")
        }
    }

    // MARK: Releasing

    /// Releases an approved request to its contactgemeente: per pseudonym the BSN sealed to the
    /// region's reveal key. Once; audited before it answers.
    package func release(_ id: String, caller consumer: Caller.Consumer) async throws -> Release {
        let now = clock.now()
        let active = state.current
        let caller = Caller.consumer(consumer)
        guard let found = try await store.reidentification(id), found.region == consumer.region else {
            throw GatewayRefusal(.notFound, "no re-identification request of that id is yours to see")
        }
        let object = Self.object(found)
        func refuse(_ code: GatewayRefusal.Code, _ message: String) async throws -> Never {
            try await self.refuse(
                code,
                message,
                action: .reidentificationRelease,
                caller: caller,
                about: found,
                at: now
            )
        }
        if try await expireIfOverdue(found) != nil {
            try await refuse(.requestExpired, "the request waited past its time for its release")
        }
        switch found.state {
        case .approved: break
        case .pending: try await refuse(.notApproved, "the request waits for its decision")
        case .refused: try await refuse(.notApproved, "the request was refused")
        case .released: try await refuse(.alreadyReleased, "the request was released at \(found.releasedAt ?? now)")
        case .expired: try await refuse(.requestExpired, "the request waited past its time")
        }
        let scope: ReidentificationScope
        switch active.policy.mayReidentify(consumer: consumer, purpose: found.purpose) {
        case .deny(let denial): try await refuse(GatewayRefusal.Code(denial.code), denial.reason)
        case .permit(let permitted): scope = permitted
        }
        guard let vault = active.identities else {
            try await refuse(
                .reidentificationKeyMissing,
                "the gateway holds no re-identification key: nothing kept for re-identification can be released"
            )
        }
        try await keeper.bringUpToDate(store: store, active: active, now: now)
        let subjects = try await store.subjects(
            found.pseudonyms,
            in: DeliveryStream(region: scope.region, purpose: found.purpose)
        )
        var released: [Release.Sealed] = []
        var unavailable: [Release.Unavailable] = []
        released.reserveCapacity(found.pseudonyms.count)
        for pseudonym in found.pseudonyms {
            guard let subject = subjects[pseudonym] else {
                unavailable.append(.init(pseudonym: pseudonym, reason: "not_in_population"))
                continue
            }
            guard let identity = subject.identity,
                case .success(let sealed) = vault.release(
                    identity,
                    of: subject.person,
                    as: pseudonym,
                    to: scope.revealKey
                )
            else {
                unavailable.append(.init(pseudonym: pseudonym, reason: "identity_not_held"))
                continue
            }
            released.append(.init(pseudonym: pseudonym, sealed: Data(sealed).base64EncodedString()))
        }
        let counts = ["people": found.pseudonyms.count, "released": released.count, "unavailable": unavailable.count]
        let change = try await store.changeReidentification(
            id,
            from: .approved,
            to: {
                $0.state = .released
                $0.releasedAt = now
            },
            audit: { request in
                AuditEvent(
                    time: now,
                    actor: consumer.oin,
                    role: .consumer,
                    action: .reidentificationRelease,
                    object: object,
                    outcome: .success,
                    counts: counts,
                    region: request.region,
                    purpose: request.purpose
                )
            }
        )
        guard case .done = change else {
            try await refuse(.alreadyReleased, "the request was released meanwhile")
        }
        return Release(
            id: found.id,
            purpose: found.purpose,
            region: found.region,
            revealKeyId: scope.revealKey.keyID,
            released: released,
            unavailable: unavailable
        )
    }

    // MARK: Expiry

    /// Expires `request` (audited) if it is waiting or approved past its time; the expired request.
    @discardableResult
    func expireIfOverdue(_ request: ReidentificationRequest) async throws -> ReidentificationRequest? {
        let now = clock.now()
        guard request.state == .pending || request.state == .approved, request.expiresAt < now else { return nil }
        let object = Self.object(request)
        let change = try await store.changeReidentification(
            request.id,
            from: request.state,
            to: { $0.state = .expired },
            audit: { expired in
                AuditEvent(
                    time: now,
                    actor: nil,
                    role: nil,
                    action: .reidentificationExpiry,
                    object: object,
                    outcome: .success,
                    reason: request.state == .pending ? "not_decided" : "not_released",
                    counts: ["people": expired.pseudonyms.count],
                    region: expired.region,
                    purpose: expired.purpose
                )
            }
        )
        if case .done(let expired) = change { return expired }
        return nil
    }

    /// Expires every request past its time; returns how many.
    @discardableResult
    package func expireOverdue() async throws -> Int {
        var expired = 0
        while true {
            let overdue = try await store.overdueReidentifications(at: clock.now(), limit: 500)
            for request in overdue where try await expireIfOverdue(request) != nil { expired += 1 }
            if overdue.count < 500 { return expired }
        }
    }
}
