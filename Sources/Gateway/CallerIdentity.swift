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

    /// The OIN in the subject `serialNumber` of the verified peer certificate on `channel`.
    static func oin(on channel: any Channel) async throws -> OIN {
        let tlsChannel = (try? await channel.pipeline.handler(type: NIOSSLHandler.self).get()) != nil ? channel : (channel.parent ?? channel)
        guard let peer = try await tlsChannel.nioSSL_peerCertificate().get() else { throw Failure.noCertificate }
        return try oin(inDER: try peer.toDERBytes())
    }

    static func oin(inDER der: [UInt8]) throws -> OIN {
        let certificate = try Certificate(derEncoded: der)
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == DevelopmentPKI.serialNumberOID {
                if let text = String(attribute.value), let oin = OIN(text) { return oin }
            }
        }
        throw Failure.noOIN
    }
}
