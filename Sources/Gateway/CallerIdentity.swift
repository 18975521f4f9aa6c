import NIOCore
import NIOSSL
import SwiftASN1
import VangnetCore
import X509

/// Reads the caller's OIN from the client certificate that TLS verified.
///
/// The TLS layer has already checked the chain against the configured CA and refused callers
/// without a certificate; this only reads the subject.
package enum CallerIdentity {
    /// Why no OIN could be read.
    package enum Failure: Error, CustomStringConvertible {
        case noCertificate
        case noOIN
        case severalOINs
        package var description: String {
            switch self {
            case .noCertificate: "the connection carries no verified client certificate"
            case .noOIN: "the client certificate has no 20-digit OIN in its subject serialNumber"
            case .severalOINs:
                "the client certificate's subject has more than one serialNumber: exactly one OIN is required"
            }
        }
    }

    /// The X.520 `serialNumber` attribute (2.5.4.5), which carries the OIN in PKIoverheid certificates.
    package static let serialNumberOID: ASN1ObjectIdentifier = [2, 5, 4, 5]

    /// The verified client certificate of the TLS connection `context`'s request arrived on.
    package static let verifiedPeerCertificate: PeerCertificate = { _, context in
        try await certificate(on: context.channel)
    }

    /// The verified peer certificate on `channel`.
    static func certificate(on channel: any Channel) async throws -> Certificate {
        let tlsChannel =
            (try? await channel.pipeline.handler(type: NIOSSLHandler.self).get()) != nil
            ? channel : (channel.parent ?? channel)
        guard let peer = try await tlsChannel.nioSSL_peerCertificate().get() else { throw Failure.noCertificate }
        return try Certificate(derEncoded: try peer.toDERBytes())
    }

    /// The OIN in the subject `serialNumber` of `certificate`: the subject must carry exactly one
    /// `serialNumber`, and it must be a 20-digit OIN. A subject with two (even two equal ones) is
    /// refused: which of them names the caller would depend on the reader.
    static func oin(in certificate: Certificate) throws -> OIN {
        let serialNumbers = certificate.subject.flatMap { rdn in rdn.filter { $0.type == Self.serialNumberOID } }
        guard serialNumbers.count <= 1 else { throw Failure.severalOINs }
        guard let text = serialNumbers.first.flatMap({ String($0.value) }), let oin = OIN(text) else {
            throw Failure.noOIN
        }
        return oin
    }
}
