import Foundation
import NIOSSL
import SwiftASN1
import VangnetCore
import X509

/// Every decision about a client certificate, made once, during the TLS handshake (swift-nio-ssl's
/// custom verification callback, which replaces BoringSSL's chain check):
///
/// - the chain from the leaf, through what the client sent, to a certificate of the configured
///   client CA bundle, under RFC 5280 (swift-certificates' `RFC5280Policy`): validity now, the
///   basic constraints and path length of every CA in it, the trust anchor's own included (which
///   BoringSSL leaves unchecked for a self-signed anchor), name constraints, and no unhandled
///   critical extension;
/// - usage (``ClientKeyUsagePolicy``): the leaf is an end entity's certificate that may sign and
///   authenticate a TLS client, every CA above it may sign certificates;
/// - revocation: the list in force must not name the leaf, and, with `tls.crlFailClosed`, must not
///   be past its nextUpdate.
///
/// A refusal is counted in the ``RefusalSummary`` with its reason (and the OIN the leaf names), and
/// the handshake fails: BoringSSL then sends the alert `certificate_unknown`, the only one a custom
/// callback can give through swift-nio-ssl. The OIN itself is checked at the request (403
/// `no_oin`), where the caller can be told why.
struct ClientCertificateVerifier: Sendable {
    let roots: CertificateStore
    let revocation: Revocation
    let refusals: RefusalSummary
    let clock: any WallClock

    /// What the handshake is told, with the reason of a refusal.
    enum Verdict: Equatable, Sendable {
        case accepted
        case refused(reason: String, actor: OIN?)
    }

    init(clientCA: URL, revocation: Revocation, refusals: RefusalSummary, clock: any WallClock) throws {
        let certificates = try PEMDocument.parseMultiple(pemString: String(contentsOf: clientCA, encoding: .utf8))
            .filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(derEncoded: $0.derBytes) }
        guard !certificates.isEmpty else {
            throw ConfigurationError("gateway.tls.clientCA: \(clientCA.path) holds no certificate")
        }
        roots = CertificateStore(certificates)
        self.revocation = revocation
        self.refusals = refusals
        self.clock = clock
    }

    /// The callback's answer for the chain the client presented (leaf first).
    func verify(_ presented: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        switch await decide(presented.map { try? Certificate(derEncoded: $0.toDERBytes()) }) {
        case .accepted:
            return .certificateVerified
        case .refused(let reason, let actor):
            refusals.handshake(reason, actor: actor)
            return .failed
        }
    }

    /// The decision for a presented chain (`nil`: a certificate that does not parse).
    func decide(_ presented: [Certificate?]) async -> Verdict {
        guard let first = presented.first, let leaf = first else {
            return .refused(reason: "tls_untrusted_certificate", actor: nil)
        }
        let intermediates = presented.dropFirst().compactMap { $0 }
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy()
            ClientKeyUsagePolicy()
        }
        // Certificate validity is judged by the real time, as BoringSSL did; the CRL by the gateway's clock.
        // A chain that does not validate names nobody: its OIN is not attested, so none is recorded.
        guard
            case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates))
        else {
            let now = Date()
            if leaf.notValidBefore > now { return .refused(reason: "tls_certificate_not_yet_valid", actor: nil) }
            if leaf.notValidAfter < now { return .refused(reason: "tls_certificate_expired", actor: nil) }
            return .refused(reason: "tls_untrusted_certificate", actor: nil)
        }
        if let refused = revocation.refusal(for: leaf, at: clock.now()) {
            return .refused(reason: refused.rawValue, actor: try? CallerIdentity.oin(in: leaf))
        }
        return .accepted
    }
}

/// Usage along a client chain (RFC 5280 §4.2.1.3, §4.2.1.9 and §4.2.1.12), which swift-certificates'
/// RFC 5280 policy leaves out: the leaf is not a CA and, where the extensions are present, allows
/// `digitalSignature` and the `clientAuth` purpose; every CA certificate above it `keyCertSign`.
struct ClientKeyUsagePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [
        .X509ExtensionID.keyUsage, .X509ExtensionID.extendedKeyUsage,
    ]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        do {
            let leaf = chain.leaf
            if case .isCertificateAuthority = try leaf.extensions.basicConstraints {
                return .failsToMeetPolicy(reason: "the client certificate is a CA certificate, not an end entity's")
            }
            if let usage = try leaf.extensions.keyUsage, !usage.digitalSignature {
                return .failsToMeetPolicy(reason: "the client certificate's key usage does not allow digitalSignature")
            }
            if let purposes = try leaf.extensions.extendedKeyUsage, !purposes.contains(.clientAuth),
                !purposes.contains(.any)
            {
                return .failsToMeetPolicy(
                    reason: "the client certificate's extended key usage does not allow clientAuth"
                )
            }
            for issuer in chain.dropFirst() {
                if let usage = try issuer.extensions.keyUsage, !usage.keyCertSign {
                    return .failsToMeetPolicy(
                        reason: "CA certificate \(issuer.subject) may not sign certificates (keyCertSign)"
                    )
                }
            }
            return .meetsPolicy
        } catch {
            return .failsToMeetPolicy(reason: "a key usage extension does not parse: \(error)")
        }
    }
}
