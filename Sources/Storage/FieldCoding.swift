import Records

/// JSON string escaping, shared with the delivery renderer.
public enum JSONText {
    /// Appends `s` as a JSON string literal.
    public static func appendString(_ s: String, to out: inout String) {
        var bytes: [UInt8] = []
        FlatJSON.appendString(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }
}
