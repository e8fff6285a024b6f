using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Alora.Experiments;
using Alora.Tests.Cli;
using TorchSharp;
using Xunit.Abstractions;

namespace Alora.Tests.Experiments;

/// <summary>A fact that needs a running Slurm cluster: .ci/run starts one (tools/slurm/start-local.sh) and sets ALORA_SLURM=1.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("ALORA_SLURM") != "1")
            Skip = "needs a Slurm cluster: .ci/run starts one with tools/slurm/start-local.sh and sets ALORA_SLURM=1";
        else if (!Fixtures.Available)
            Skip = $"fixtures not found at {Fixtures.Root}";
    }
}

/// <summary>
/// The experiment through a real Slurm (slurmctld, slurmd, slurmdbd), never a stand-in: the same results.csv as
/// the local run, dependencies held in sacct's start and end times, and a job cancelled midway resumed by a rerun.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class SlurmExperimentTests(ITestOutputHelper output)
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    /// <summary>Runs the CLI in-process, failing the test if it takes longer than <see cref="Limit"/>.</summary>
    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var run = Task.Run(() => CliRunner.Run(args));
        Assert.True(run.Wait(Limit), $"alora {string.Join(' ', args)} took more than {Limit}");
        return run.Result;
    }

    static void Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Limit, $"waited {Limit} for {what}");
            Thread.Sleep(50);
        }
    }

    static string Sacct(IEnumerable<string> ids) =>
        Alora.Experiments.SlurmCommands.Run(
            "sacct",
            ["-X", "--noheader", "--parsable2", "--format=JobID,JobName%40,State,Start,End", "--jobs=" + string.Join(',', ids)]
        );

    /// <summary>results.csv without the columns that measure time and memory, which differ from run to run.</summary>
    static List<string> Comparable(string csv)
    {
        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var keep = Enumerable
            .Range(0, header.Length)
            .Where(i => !header[i].EndsWith("_seconds", StringComparison.Ordinal) && header[i] != "peak_memory_bytes")
            .ToList();
        return lines.Select(l => string.Join(',', keep.Select(i => l.Split(',')[i]))).ToList();
    }

    [SlurmFact]
    public void An_experiment_through_Slurm_gets_the_local_results_and_resumes_a_cancelled_job()
    {
        using var tmp = new TempDir();
        var yaml = ExperimentTests.WriteExperiment(
            tmp.Path,
            "[lora-mu, alora]",
            "slurm:\n  cpus-per-task: 1\n  methods:\n    lora-mu: {time: \"00:20:00\"}\n"
        );
        // lora-mu trains long enough (checkpoints every 20 steps) to be cancelled midway
        var text = File.ReadAllText(yaml)
            .Replace("seeds: [1, 2]", "seeds: [1]", StringComparison.Ordinal)
            .Replace("  alora: {phi: 100}", "  alora: {phi: 100}\n  lora-mu: {max-steps: 600, checkpoint-every: 20}", StringComparison.Ordinal);
        File.WriteAllText(yaml, text);

        int threads = torch.get_num_threads();
        var clock = Stopwatch.StartNew();
        var local = Cli("experiment", "--config", yaml, "--out", tmp.File("local"), "--workers", "1", "--threads", "1");
        torch.set_num_threads(threads);
        Assert.True(local.Code == 0, local.Err);
        output.WriteLine($"local, one worker: {clock.Elapsed.TotalSeconds:F1} s");

        // submit and return; cancel lora-mu once it has a checkpoint
        var outDir = tmp.File("slurm");
        clock.Restart();
        var first = Cli("experiment", "--config", yaml, "--out", outDir, "--launcher", "slurm");
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("submitted lora-mu-quiz-s1: job ", first.Err, StringComparison.Ordinal);
        Assert.Matches(@"submitted alora-quiz-s1: job \d+ after \d+", first.Err);
        Assert.False(File.Exists(Path.Combine(outDir, "results.csv")));
        var record = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, SlurmLauncher.RecordFile)))!["jobs"]!;
        string Ids(string job) => string.Join(',', record[job]!["job_ids"]!.AsArray().Select(i => i!.GetValue<string>()));
        var cancelled = Ids("lora-mu-quiz-s1");
        var checkpoints = Path.Combine(outDir, "runs", "lora-mu-quiz-s1", "checkpoints");
        Until(
            () =>
                Directory.Exists(checkpoints)
                && Directory.GetDirectories(checkpoints, "step-*").Any(d => File.Exists(Path.Combine(d, "trainer_state.json"))),
            "lora-mu's first complete checkpoint"
        );
        Alora.Experiments.SlurmCommands.Cancel(cancelled);
        // it stops at the end of its step with a checkpoint there (SIGTERM), then leaves the queue
        Until(
            () =>
                Alora.Experiments.SlurmCommands.States([cancelled]).GetValueOrDefault(cancelled) is { } st
                && !Alora.Experiments.SlurmCommands.LiveStates.Contains(st),
            $"job {cancelled} to end"
        );
        Assert.False(File.Exists(Path.Combine(outDir, "runs", "lora-mu-quiz-s1", "summary.json")));
        // SIGTERM from scancel: the job wrote a checkpoint at the last step it logged
        var lastLogged = File.ReadAllLines(Path.Combine(outDir, "runs", "lora-mu-quiz-s1", "metrics.jsonl")).Length;
        Assert.Contains($"step-{lastLogged:D7}", Directory.GetDirectories(checkpoints).Select(Path.GetFileName));

        // the same command again: the cancelled run is submitted again and resumes; the others are left to their jobs
        var second = Cli("experiment", "--config", yaml, "--out", outDir, "--launcher", "slurm", "--wait", "--poll-seconds", "1");
        Assert.True(second.Code == 0, second.Err);
        output.WriteLine($"slurm, cancelled and resumed: {clock.Elapsed.TotalSeconds:F1} s\n{second.Err}");
        Assert.Contains("results: ", second.Out, StringComparison.Ordinal);
        record = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, SlurmLauncher.RecordFile)))!["jobs"]!;
        var ids = Ids("lora-mu-quiz-s1").Split(',');
        Assert.Equal(cancelled, ids[0]);
        Assert.Equal(2, ids.Length);
        Assert.Equal("1", Ids("general-s1").Split(',').Length.ToString(CultureInfo.InvariantCulture));
        var resumedLog = File.ReadAllText(Path.Combine(outDir, "runs", "lora-mu-quiz-s1", $"slurm-{ids[1]}.out"));
        Assert.Contains("resumed: 1", resumedLog, StringComparison.Ordinal);
        // resources: the global cpus-per-task for every job, lora-mu's own time limit for its run only
        var loraScript = File.ReadAllLines(Path.Combine(outDir, "slurm", "lora-mu-quiz-s1.sbatch"));
        var generalScript = File.ReadAllLines(Path.Combine(outDir, "slurm", "general-s1.sbatch"));
        Assert.Contains("#SBATCH --cpus-per-task=1", loraScript);
        Assert.Contains("#SBATCH --time=00:20:00", loraScript);
        Assert.Contains("#SBATCH --cpus-per-task=1", generalScript);
        Assert.DoesNotContain(generalScript, l => l.StartsWith("#SBATCH --time", StringComparison.Ordinal));

        Assert.Equal(Comparable(Path.Combine(tmp.File("local"), "results.csv")), Comparable(Path.Combine(outDir, "results.csv")));

        // sacct: every last job completed; alora's domain run started after the general stage it reads had ended
        var all = record.Select(kv => kv.Value!["job_ids"]!.AsArray()[^1]!.GetValue<string>()).ToList();
        // sacct's rows follow slurmctld by a few seconds: wait until they all show an end
        bool Ended(string line) =>
            line.Split('|') is [_, _, var state, _, _] && !Alora.Experiments.SlurmCommands.LiveStates.Contains(state.Split(' ')[0]);
        Until(
            () =>
                Sacct([.. all, cancelled]).Split('\n', StringSplitOptions.RemoveEmptyEntries) is var lines
                && lines.Length == all.Count + 1
                && lines.All(Ended),
            "sacct to show every job ended"
        );
        var table = Sacct([.. all, cancelled]);
        output.WriteLine("JobID|JobName|State|Start|End\n" + table);
        var rows = table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|')).ToDictionary(r => r[0]);
        Assert.All(all, id => Assert.Equal("COMPLETED", rows[id][2]));
        Assert.StartsWith("CANCELLED", rows[cancelled][2], StringComparison.Ordinal);
        DateTime T(string id, int col) => DateTime.Parse(rows[id][col], CultureInfo.InvariantCulture);
        var general = Ids("general-s1");
        var alora = Ids("alora-quiz-s1").Split(',')[^1];
        Assert.True(T(alora, 3) >= T(general, 4), $"alora-quiz-s1 started {rows[alora][3]}, before general-s1 ended {rows[general][4]}");
    }
}
