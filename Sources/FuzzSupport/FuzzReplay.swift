import Foundation

/// The replay side of a fuzz harness (built without `FUZZING`): runs saved inputs through the
/// harness once each, or writes its seed corpus.
package enum FuzzReplay {
    /// `name FILE|DIR...` replays every file (`run` says whether the input was accepted whole); `name --make-seeds DIR` writes the seeds.
    package static func main(
        name: String,
        run: (UnsafeRawBufferPointer) -> Bool,
        seeds: () throws -> [(String, [UInt8])]
    ) throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--make-seeds", arguments.count == 2 {
            let directory = URL(fileURLWithPath: arguments[1])
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let made = try seeds()
            for (file, bytes) in made { try Data(bytes).write(to: directory.appendingPathComponent(file)) }
            print("\(name): \(made.count) seeds written to \(directory.path)")
            return
        }
        guard !arguments.isEmpty else {
            print("usage: \(name) FILE|DIR...    replay inputs\n       \(name) --make-seeds DIR")
            return
        }
        var files: [URL] = []
        for argument in arguments {
            let url = URL(fileURLWithPath: argument)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw ReplayError("\(argument): no such file")
            }
            files +=
                isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil).sorted {
                    $0.path < $1.path
                }
                : [url]
        }
        var accepted = 0
        for file in files where try Data(contentsOf: file).withUnsafeBytes(run) { accepted += 1 }
        print("\(name): \(files.count) inputs replayed, none crashed; \(accepted) accepted whole")
    }

    struct ReplayError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

#if FUZZING
/// libFuzzer's entry for a program with its own `main` (SwiftPM gives every executable one).
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// Hands the process to libFuzzer, which calls `callback` with each input.
package enum FuzzDriver {
    package static func main(_ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, callback))
    }
}
#endif
