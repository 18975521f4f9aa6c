/// Splits a byte stream into lines as chunks arrive, across chunk boundaries.
///
/// Holds at most one partial line (bounded by `maxLineBytes`, beyond which the line is reported
/// as oversized rather than buffered). Empty lines are skipped but counted.
package struct LineSplitter: Sendable {
    package enum Line {
        case line(UnsafeRawBufferPointer, number: Int)
        case oversized(number: Int)
    }

    private var partial: [UInt8] = []
    private var partialOversized = false
    private var lineNumber = 0
    private let maxLineBytes: Int

    package init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Feeds `chunk`, calling `body` for each complete line.
    package mutating func feed(_ chunk: UnsafeRawBufferPointer, _ body: (Line) throws -> Void) rethrows {
        var start = 0
        while let nl = chunk[start...].firstIndex(of: 0x0A) {
            lineNumber += 1
            if partial.isEmpty && !partialOversized {
                let slice = UnsafeRawBufferPointer(rebasing: chunk[start..<nl])
                if !slice.isEmpty { try emit(slice, body) }
            } else {
                if partialOversized || partial.count + (nl - start) > maxLineBytes {
                    try body(.oversized(number: lineNumber))
                } else {
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<nl]))
                    try partial.withUnsafeBytes { try emit($0, body) }
                }
                partial.removeAll(keepingCapacity: true)
                partialOversized = false
            }
            start = nl + 1
        }
        if start < chunk.count {
            if partial.count + (chunk.count - start) > maxLineBytes {
                partialOversized = true
                partial.removeAll(keepingCapacity: true)
            } else if !partialOversized {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start...]))
            }
        }
    }

    /// Ends the stream: a last line without a newline is still a line.
    package mutating func finish(_ body: (Line) throws -> Void) rethrows {
        guard !partial.isEmpty || partialOversized else { return }
        lineNumber += 1
        if partialOversized {
            try body(.oversized(number: lineNumber))
        } else {
            try partial.withUnsafeBytes { try emit($0, body) }
        }
        partial.removeAll()
        partialOversized = false
    }

    private func emit(_ slice: UnsafeRawBufferPointer, _ body: (Line) throws -> Void) rethrows {
        if slice.count > maxLineBytes {
            try body(.oversized(number: lineNumber))
        } else {
            try body(.line(slice, number: lineNumber))
        }
    }
}
