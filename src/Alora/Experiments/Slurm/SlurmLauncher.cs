using System.Diagnostics;
using System.Text.Json.Nodes;
using Alora.IO;

namespace Alora.Experiments;

/// <summary>
/// Hands an experiment's plan to Slurm (<see cref="ExperimentRunOptions.Submit"/>): one batch job per job not yet done,
/// in plan order, each with <c>--dependency=afterok:</c> on the jobs it reads that are not done and
/// <c>--kill-on-invalid-dep=yes</c>, so that a failure cancels what waits on it. DIR/slurm.json keeps every job id
/// submitted per job, DIR/slurm/NAME.sbatch the scripts. A call again is safe: a job done is passed over, one whose
/// last Slurm job is queued or running is left to it, one whose job ended without finishing it (failed, cancelled,
/// timed out) is submitted again and resumes from its last checkpoint; a job left waiting on a job submitted again
/// is cancelled and submitted again after it.
/// </summary>
public sealed class SlurmLauncher(
    SlurmResources resources,
    string configPath,
    string outDir,
    IReadOnlyList<string> command,
    TextWriter log,
    bool wait,
    TimeSpan poll
)
{
    public const string RecordFile = "slurm.json";

    /// <summary>Submits what is left; with wait, watches until every job is done (true) or one ended without finishing it (an error).</summary>
    public bool Submit(ExperimentPlan plan, Func<ExperimentJob, bool> done)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(done);
        var record = ReadRecord();
        var current = record.ToDictionary(kv => kv.Key, kv => kv.Value[^1]);
        var states = SettledStates(current.Values.ToList());
        var submittedNow = new HashSet<string>(StringComparer.Ordinal);
        int kept = 0;
        foreach (var job in plan.Jobs)
        {
            if (done(job))
                continue;
            bool live =
                current.TryGetValue(job.Name, out var id) && states.TryGetValue(id, out var state) && SlurmCommands.LiveStates.Contains(state);
            bool waitsOnOld = job.DependsOn.Any(submittedNow.Contains);
            if (live && !waitsOnOld)
            {
                kept++;
                continue;
            }
            if (live)
                SlurmCommands.Cancel(id!); // it waits on a job id that failed: after the new one instead
            var deps = job.DependsOn.Where(d => !done(plan.Job(d))).Select(d => current[d]).ToList();
            var newId = SubmitJob(plan, job, deps);
            current[job.Name] = newId;
            record[job.Name] = [.. record.GetValueOrDefault(job.Name) ?? [], newId];
            submittedNow.Add(job.Name);
            WriteRecord(record);
            log.WriteLine($"submitted {job.Name}: job {newId}{(deps.Count > 0 ? $" after {string.Join(", ", deps)}" : "")}");
        }
        int left = plan.Jobs.Count(j => !done(j));
        log.WriteLine($"slurm: {submittedNow.Count} submitted, {kept} already queued or running, {plan.Jobs.Count - left} of {plan.Jobs.Count} done");
        if (left == 0)
            return true;
        if (!wait)
        {
            log.WriteLine(
                $"rerun the same command when they are done to write the results (or pass --wait); job ids in {Path.Combine(outDir, RecordFile)}"
            );
            return false;
        }
        Watch(plan, done, current);
        return true;
    }

    /// <summary>
    /// The jobs' states once none is COMPLETING (a job stopping on SIGTERM writes its checkpoint then), so that a job
    /// about to end cancelled is submitted again rather than taken for a live one; a minute at most.
    /// </summary>
    static Dictionary<string, string> SettledStates(List<string> ids)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var states = SlurmCommands.States(ids);
            if (!states.ContainsValue("COMPLETING") || clock.Elapsed > TimeSpan.FromMinutes(1))
                return states;
            Thread.Sleep(500);
        }
    }

    /// <summary>The scripts a submission would write, with the jobs they would wait on by name; Slurm is not asked.</summary>
    public string DryRun(ExperimentPlan plan, Func<ExperimentJob, bool> done)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(done);
        var s = new System.Text.StringBuilder();
        foreach (var job in plan.Jobs.Where(j => !done(j)))
        {
            var deps = job.DependsOn.Where(d => !done(plan.Job(d))).ToList();
            s.Append($"# {Path.Combine(outDir, "slurm", job.Name + ".sbatch")}: sbatch --kill-on-invalid-dep=yes");
            s.Append(deps.Count > 0 ? $" --dependency=afterok:<{string.Join(">:<", deps)}>\n" : "\n");
            s.Append(SlurmScript.For(job, resources.For(job), configPath, outDir, command)).Append('\n');
        }
        return s.ToString();
    }

    string SubmitJob(ExperimentPlan plan, ExperimentJob job, List<string> deps)
    {
        Directory.CreateDirectory(plan.RunDir(job.Name)); // where its output goes: sbatch does not make the folder
        var script = Path.Combine(Path.GetFullPath(outDir), "slurm", job.Name + ".sbatch");
        AtomicFile.WriteAllText(script, SlurmScript.For(job, resources.For(job), configPath, outDir, command));
        var options = new List<string> { "--kill-on-invalid-dep=yes" };
        if (deps.Count > 0)
            options.Add("--dependency=afterok:" + string.Join(':', deps));
        return SlurmCommands.Submit(script, options);
    }

    /// <summary>Polls Slurm and the run folders, telling each change of a job's state, until all are done; a job that ended without finishing is an error.</summary>
    void Watch(ExperimentPlan plan, Func<ExperimentJob, bool> done, Dictionary<string, string> current)
    {
        var clock = Stopwatch.StartNew();
        var told = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var pending = plan.Jobs.Where(j => !done(j)).ToList();
            if (pending.Count == 0)
                return;
            var states = SlurmCommands.States(pending.Select(j => current[j.Name]).ToList());
            var ended = new List<ExperimentJob>();
            foreach (var job in pending)
            {
                var id = current[job.Name];
                var state = states.GetValueOrDefault(id, "UNKNOWN");
                if (told.GetValueOrDefault(job.Name) != state)
                    log.WriteLine(
                        $"[{clock.Elapsed:hh\\:mm\\:ss}] {job.Name} (job {id}): {state}  ({plan.Jobs.Count - pending.Count} of {plan.Jobs.Count} done)"
                    );
                told[job.Name] = state;
                if (!SlurmCommands.LiveStates.Contains(state))
                    ended.Add(job);
            }
            if (ended.Count > 0)
            {
                // a job that ended COMPLETED may have written its last file just now: look again before calling it a failure
                Thread.Sleep(TimeSpan.FromSeconds(1));
                var failed = ended.Where(j => !done(j)).ToList();
                if (failed.Count > 0)
                    throw new AloraException(
                        string.Join(
                            "; ",
                            failed.Select(j =>
                                $"{j.Name} (job {current[j.Name]}: {told[j.Name]}; log {Path.Combine(plan.RunDir(j.Name), $"slurm-{current[j.Name]}.out")})"
                            )
                        ) + " ended without finishing: rerun the same command to submit it again (it resumes from its last checkpoint)"
                    );
            }
            Thread.Sleep(poll);
        }
    }

    Dictionary<string, List<string>> ReadRecord()
    {
        var path = Path.Combine(outDir, RecordFile);
        var record = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (!File.Exists(path))
            return record;
        var jobs = JsonFile.Read(path)["jobs"] as JsonObject ?? throw new AloraException($"{path}: no 'jobs' mapping");
        foreach (var (name, node) in jobs)
        {
            var ids = (node?["job_ids"] as JsonArray)?.Select(i => i?.GetValue<string>()).ToList();
            if (ids is null || ids.Count == 0 || ids.Any(i => i is null))
                throw new AloraException($"{path}: jobs.{name}: expected job_ids, a list of Slurm job ids");
            record[name] = ids!;
        }
        return record;
    }

    void WriteRecord(Dictionary<string, List<string>> record)
    {
        var jobs = new JsonObject();
        foreach (var (name, ids) in record)
            jobs[name] = new JsonObject
            {
                ["job_ids"] = new JsonArray(ids.Select(i => (JsonNode)JsonValue.Create(i)!).ToArray()),
                ["script"] = Path.Combine(Path.GetFullPath(outDir), "slurm", name + ".sbatch"),
            };
        AtomicFile.WriteAllText(
            Path.Combine(outDir, RecordFile),
            new JsonObject { ["jobs"] = jobs }.ToJsonString(new() { WriteIndented = true }) + "\n"
        );
    }
}
