using System.Diagnostics;
using Alora.Cli;

namespace Alora.Tests.Cli;

/// <summary>The worker processes of <c>alora experiment --workers</c>: how they are started, a failure, a cancellation (with sh standing in for the CLI).</summary>
public sealed class ChildJobLauncherTests
{
    [Fact]
    public void AWorkerIsThisCliAgainOnOneJobWithOneThread()
    {
        // under the test host the CLI runs in-process: a worker is dotnet with the CLI's assembly
        var (file, prefix) = ChildJobLauncher.SelfCommand();
        Assert.Equal("dotnet", Path.GetFileNameWithoutExtension(file));
        Assert.Equal(typeof(ChildJobLauncher).Assembly.Location, Assert.Single(prefix));
        Assert.True(File.Exists(Path.ChangeExtension(prefix[0], ".runtimeconfig.json")));

        var info = ChildJobLauncher.ForThisProgram("exp.yaml", "out").StartInfo("alora-quiz-s1");
        Assert.Equal(
            [
                prefix[0],
                "experiment",
                "--config",
                Path.GetFullPath("exp.yaml"),
                "--out",
                Path.GetFullPath("out"),
                "--job",
                "alora-quiz-s1",
                "--threads",
                "1",
            ],
            info.ArgumentList
        );
        Assert.Equal("1", info.Environment["OMP_NUM_THREADS"]);
        Assert.Equal("1", info.Environment["MKL_NUM_THREADS"]);
        Assert.True(info.RedirectStandardOutput && info.RedirectStandardError);
    }

    [Fact]
    public async Task AFailedWorkerThrowsWithItsLogAndItsLastLines()
    {
        using var tmp = new TempDir();
        var launcher = new ChildJobLauncher("exp.yaml", tmp.Path, "sh", ["-c", "echo out line; echo boom >&2; exit 3", "sh"]);
        var e = await Assert.ThrowsAsync<AloraException>(() => launcher.Run("job-a", CancellationToken.None));
        var log = launcher.LogPath("job-a");
        Assert.Equal(Path.Combine(tmp.Path, "runs", "job-a", "worker.log"), log);
        Assert.Contains($"exited with code 3; log: {log}", e.Message);
        Assert.Contains("boom", e.Message);
        Assert.Contains("out line", File.ReadAllText(log));

        // a second attempt appends to the log
        await Assert.ThrowsAsync<AloraException>(() => launcher.Run("job-a", CancellationToken.None));
        Assert.Equal(2, File.ReadLines(log).Count(l => l.StartsWith("== ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task CancellingKillsTheWorker()
    {
        using var tmp = new TempDir();
        var launcher = new ChildJobLauncher("exp.yaml", tmp.Path, "sh", ["-c", "echo started; sleep 30", "sh"]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => launcher.Run("job-b", cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{clock.Elapsed}");
        Assert.Contains("started", File.ReadAllText(launcher.LogPath("job-b")));
    }
}
