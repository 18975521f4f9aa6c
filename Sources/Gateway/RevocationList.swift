import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate revocation list (RFC 5280 §5), as PKIoverheid publishes them: read from DER or
/// PEM, accepted only when the client CA signed it.
package struct RevocationList: Sendable, Equatable {
    /// Serial numbers of the revoked certificates (the bytes of the DER INTEGER).
    package let revokedSerials: Set<[UInt8]>
    package let thisUpdate: Date
    package let nextUpdate: Date?
    /// The CRL number (RFC 5280 §5.2.3) as unsigned big-endian bytes without leading zeros, if
    /// the list carries one: it grows with every list the CA issues.
    package let number: [UInt8]?

    /// Whether this list is older than `other` (by CRL number where both carry one, else by
    /// thisUpdate): taking it into use would roll revocations back.
    package func isOlder(than other: RevocationList) -> Bool {
        if let number, let otherNumber = other.number, number != otherNumber {
            return number.count != otherNumber.count
                ? number.count < otherNumber.count : number.lexicographicallyPrecedes(otherNumber)
        }
        return thisUpdate < other.thisUpdate
    }

    /// What is wrong with a CRL file.
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }

    /// Whether `certificate` is on the list.
    package func revokes(_ certificate: Certificate) -> Bool {
        revokedSerials.contains(Array(certificate.serialNumber.bytes))
    }

    /// Parses `bytes` (DER, or PEM "X509 CRL") and checks that `issuer` signed it.
    package init(bytes: [UInt8], issuer: Certificate) throws {
        var der = bytes
        if let text = String(bytes: bytes, encoding: .utf8), text.contains("-----BEGIN X509 CRL-----") {
            der = try PEMDocument(pemString: text).derBytes
        }
        let root: ASN1Node
        do { root = try DER.parse(der) } catch { throw Failure("not a DER or PEM certificate revocation list") }
        guard case .constructed(let outer) = root.content else { throw Failure("not a certificate revocation list") }
        var parts = outer.makeIterator()
        guard let tbs = parts.next(), let algorithm = parts.next(), let signatureNode = parts.next(),
            parts.next() == nil
        else {
            throw Failure("a CRL has three parts: the list, the signature algorithm and the signature")
        }
        let signature = try ASN1BitString(derEncoded: signatureNode)
        let signatureAlgorithm = try Self.signatureAlgorithm(algorithm)
        guard
            issuer.publicKey.isValidSignature(
                Array(signature.bytes),
                for: tbs.encodedBytes,
                signatureAlgorithm: signatureAlgorithm
            )
        else {
            throw Failure("the CRL is not signed by the client CA (\(issuer.subject))")
        }
        (revokedSerials, thisUpdate, nextUpdate, number) = try Self.parseList(tbs, issuer: issuer)
    }

    /// Reads a CRL file; see ``init(bytes:issuer:)``.
    package init(contentsOf file: URL, issuer: Certificate) throws {
        try self.init(bytes: Array(try Data(contentsOf: file)), issuer: issuer)
    }

    private static func signatureAlgorithm(_ node: ASN1Node) throws -> Certificate.SignatureAlgorithm {
        guard case .constructed(let parts) = node.content, let first = parts.first(where: { _ in true }) else {
            throw Failure("malformed signature algorithm")
        }
        let known: [ASN1ObjectIdentifier: Certificate.SignatureAlgorithm] = [
            [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256, [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384,
            [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512,
            [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption,
            [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption,
            [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption, [1, 3, 101, 112]: .ed25519,
        ]
        let oid = try ASN1ObjectIdentifier(derEncoded: first)
        guard let algorithm = known[oid] else { throw Failure("unsupported CRL signature algorithm \(oid)") }
        return algorithm
    }

    /// TBSCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] extensions?
    private static func parseList(_ node: ASN1Node, issuer: Certificate) throws -> (Set<[UInt8]>, Date, Date?, [UInt8]?)
    {
        guard case .constructed(let children) = node.content else { throw Failure("malformed CRL") }
        var fields = Array(children)[...]
        if fields.first?.identifier == .integer { fields = fields.dropFirst() }  // version v2
        guard fields.count >= 3 else { throw Failure("malformed CRL: too few fields") }
        fields = fields.dropFirst()  // the signature algorithm again
        let name = try DistinguishedName(derEncoded: fields.removeFirst())
        guard name == issuer.subject else { throw Failure("the CRL's issuer is \(name), not the client CA") }
        let thisUpdate = try date(fields.removeFirst())
        var nextUpdate: Date?
        if let next = fields.first, next.identifier == .utcTime || next.identifier == .generalizedTime {
            nextUpdate = try date(next)
            fields = fields.dropFirst()
        }
        var serials = Set<[UInt8]>()
        if let list = fields.first, list.identifier == .sequence, case .constructed(let entries) = list.content {
            for entry in entries {
                guard case .constructed(let parts) = entry.content, let serial = parts.first(where: { _ in true })
                else { throw Failure("malformed CRL entry") }
                serials.insert(Array(try ArraySlice<UInt8>(derEncoded: serial)))
            }
            fields = fields.dropFirst()
        }
        return (serials, thisUpdate, nextUpdate, try fields.first.flatMap(crlNumber))
    }

    static let crlNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]

    /// The CRL number in `[0] EXPLICIT Extensions`, if there is one.
    private static func crlNumber(_ node: ASN1Node) throws -> [UInt8]? {
        guard node.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
            case .constructed(let wrapped) = node.content,
            let extensions = wrapped.first(where: { _ in true }), case .constructed(let list) = extensions.content
        else { return nil }
        for item in list {
            guard case .constructed(let parts) = item.content else { throw Failure("malformed CRL extension") }
            let members = Array(parts)
            guard let first = members.first, try ASN1ObjectIdentifier(derEncoded: first) == crlNumberOID,
                let value = members.last
            else { continue }
            let octets = try ASN1OctetString(derEncoded: value)
            let integer = try ArraySlice<UInt8>(derEncoded: Array(octets.bytes)[...])
            return Array(integer.drop { $0 == 0 })
        }
        return nil
    }

    private static func date(_ node: ASN1Node) throws -> Date {
        let c: (year: Int, month: Int, day: Int, hours: Int, minutes: Int, seconds: Int)
        if node.identifier == .utcTime {
            let t = try UTCTime(derEncoded: node)
            c = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        } else {
            let t = try GeneralizedTime(derEncoded: node)
            c = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        guard
            let date = calendar.date(
                from: DateComponents(
                    year: c.year,
                    month: c.month,
                    day: c.day,
                    hour: c.hours,
                    minute: c.minutes,
                    second: c.seconds
                )
            )
        else {
            throw Failure("malformed CRL time")
        }
        return date
    }

    /// A CRL signed by `caKey` for the CA `ca`, revoking `serials` (for the development PKI and tests).
    package static func issue(
        revoking serials: [Certificate.SerialNumber],
        ca: Certificate,
        caKey: Certificate.PrivateKey,
        now: Date = Date(),
        validity: TimeInterval = 7 * 86_400,
        number: Int = 1
    ) throws -> [UInt8] {
        func utc(_ date: Date) throws -> UTCTime {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = .gmt
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            return try UTCTime(
                year: c.year!,
                month: c.month!,
                day: c.day!,
                hours: c.hour!,
                minutes: c.minute!,
                seconds: c.second!
            )
        }
        // ecdsa-with-SHA256 (the development CA is P-256)
        let algorithm: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { list in
            try list.serialize(1)  // v2
            try list.appendConstructedNode(identifier: .sequence) { try $0.serialize(algorithm) }
            try list.serialize(ca.subject)
            try list.serialize(try utc(now))
            try list.serialize(try utc(now.addingTimeInterval(validity)))
            if !serials.isEmpty {
                try list.appendConstructedNode(identifier: .sequence) { entries in
                    for serial in serials {
                        try entries.appendConstructedNode(identifier: .sequence) { entry in
                            try entry.serialize(serial.bytes)
                            try entry.serialize(try utc(now))
                        }
                    }
                }
            }
            // [0] EXPLICIT Extensions: the CRL number.
            try list.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) {
                wrapper in
                try wrapper.appendConstructedNode(identifier: .sequence) { extensions in
                    try extensions.appendConstructedNode(identifier: .sequence) { item in
                        try item.serialize(crlNumberOID)
                        var value = DER.Serializer()
                        try value.serialize(number)
                        try item.serialize(ASN1OctetString(contentBytes: value.serializedBytes[...]))
                    }
                }
            }
        }
        let signature = try caKey.sign(bytes: tbs.serializedBytes, signatureAlgorithm: .ecdsaWithSHA256)
        var crl = DER.Serializer()
        try crl.appendConstructedNode(identifier: .sequence) { outer in
            outer.serializeRawBytes(tbs.serializedBytes)
            try outer.appendConstructedNode(identifier: .sequence) { try $0.serialize(algorithm) }
            try outer.serialize(ASN1BitString(bytes: signature.rawRepresentation[...]))
        }
        return crl.serializedBytes
    }
}
