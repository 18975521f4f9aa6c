import NIOCore
import NIOSSL
import SwiftASN1
import VangnetCore
import X509

/// Reads the caller's OIN from the client certificate that TLS verified.
///
/// The TLS layer has already checked the chain against the configured CA and refused callers
/// without a certificate; this only reads the subject.
enum CallerIdentity {
    /// Why no OIN could be read.
    enum Failure: Error, CustomStringConvertible {
        case noCertificate
        case noOIN
        var description: String {
            switch self {
            case .noCertificate: "the connection carries no verified client certificate"
            case .noOIN: "the client certificate has no 20-digit OIN in its subject serialNumber"
            }
        }
    }

    /// The verified peer certificate on `channel`.
    static func certificate(on channel: any Channel) async throws -> Certificate {
        let tlsChannel = (try? await channel.pipeline.handler(type: NIOSSLHandler.self).get()) != nil ? channel : (channel.parent ?? channel)
        guard let peer = try await tlsChannel.nioSSL_peerCertificate().get() else { throw Failure.noCertificate }
        return try Certificate(derEncoded: try peer.toDERBytes())
    }

    /// The OIN in the subject `serialNumber` of `certificate`.
    static func oin(in certificate: Certificate) throws -> OIN {
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == DevelopmentPKI.serialNumberOID {
                if let text = String(attribute.value), let oin = OIN(text) { return oin }
            }
        }
        throw Failure.noOIN
    }
}
