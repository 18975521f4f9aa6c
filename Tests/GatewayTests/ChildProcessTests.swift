import DevelopmentSupport
import Foundation
import Gateway
import Testing

/// The children the tests and the benchmark start (``Spawned``, ``ChildProcess``): what they get,
/// what they report, and that many at once start safely.
@Suite struct ChildProcessTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    @Test func outputErrorsAndExitCodeAreCaptured() async throws {
        let finished = try await ChildProcess.run(Self.shell, ["-c", "echo out; echo err >&2; exit 7"])
        #expect(finished.status == 7)
        #expect(finished.output == "out\n")
        #expect(finished.errors == "err\n")
    }

    @Test func theEnvironmentIsThisProcesssWithTheAdditions() async throws {
        let finished = try await ChildProcess.run(
            Self.shell,
            ["-c", "echo \"$VANGNET_CHILD_TEST|$PATH\""],
            environment: ["VANGNET_CHILD_TEST": "set"]
        )
        #expect(finished.output == "set|\(ProcessInfo.processInfo.environment["PATH"] ?? "")\n")
    }

    /// Only the standard streams: no socket, database or other child's pipe of this process leaks
    /// into a child (a leaked pipe end keeps another child's output open forever).
    @Test func theChildInheritsOnlyItsStandardStreams() async throws {
        let held = Pipe()  // a descriptor of this process that is not close-on-exec
        defer { try? held.fileHandleForWriting.close() }
        let finished = try await ChildProcess.run(Self.shell, ["-c", "cd /proc/self/fd && ls"])
        let descriptors = Set(finished.output.split(separator: "\n").compactMap { Int($0) })
        // 0, 1, 2 and the directory `ls` itself has open (4 if `held` had leaked in as 3).
        #expect(descriptors.isSubset(of: [0, 1, 2, 3]), "\(descriptors.sorted())")
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
    }

    @Test func standardInputIsEmpty() async throws {
        let finished = try await ChildProcess.run(Self.shell, ["-c", "wc -c"])
        #expect(finished.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func discardedErrorsGoNowhere() async throws {
        let finished = try await ChildProcess.run(Self.shell, ["-c", "echo err >&2; echo out"], discardErrors: true)
        #expect(finished.output == "out\n")
        #expect(finished.errors.isEmpty)
    }

    @Test func aChildEndedBySignalReportsItAsAShellWould() async throws {
        let child = try ChildProcess(Self.shell, ["-c", "exec sleep 30"])  // exec: no grandchild holding the pipes open
        #expect(child.process.isRunning)
        #expect(child.process.terminationStatus == nil)
        child.process.send(SIGKILL)
        let finished = try await child.finished()
        #expect(finished.status == 128 + SIGKILL)
        #expect(!child.process.isRunning)
        #expect(child.process.terminationStatus == 128 + SIGKILL)
        child.process.send(SIGKILL)  // reaped already: nothing is sent, nothing fails
    }

    @Test func aMissingExecutableIsAClearError() async throws {
        var message = ""
        do {
            _ = try ChildProcess(URL(fileURLWithPath: "/nonexistent/vangnet-tool"), [])
        } catch let error as SpawnError {
            message = error.description
        }
        #expect(message == "could not start /nonexistent/vangnet-tool: No such file or directory")
    }

    /// Each attempt opens two pipes; were their ends left open, 500 attempts would leave 2,000
    /// descriptors (other suites running beside this one open and close a few).
    @Test func aChildThatDidNotStartLeavesNoDescriptorOpen() throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        var failures = 0
        for _ in 0..<500 {
            do { _ = try ChildProcess(URL(fileURLWithPath: "/nonexistent/vangnet-tool"), []) } catch is SpawnError {
                failures += 1
            }
        }
        let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        #expect(failures == 500)
        #expect(after - before < 200, "\(after - before) more descriptors open")
    }

    /// Foundation's `Process.run()` crashed about one run in five of this suite when children
    /// started while other threads opened and closed descriptors; these start many at once.
    @Test func manyChildrenStartAtOnce() async throws {
        let count = 64
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for index in 0..<count {
                group.addTask {
                    let finished = try await ChildProcess.run(Self.shell, ["-c", "echo \(index); exit \(index % 3)"])
                    return finished.output == "\(index)\n" ? finished.status : -1
                }
            }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(statuses.count == count)
        do {
            let expected = (0..<count).map { Int32($0 % 3) }.sorted()
            #expect(statuses.sorted() == expected)
        }
    }
}
