using Alora.Recipes;

namespace Alora.Experiments;

/// <summary>
/// Sequential tuning (eq. 15): the runs of each trained method on a domain task continue, one stage per task of the
/// sequence, as the same method at its configured strength. A stage starts from the previous stage's adapter
/// (--init-adapter): ALoRA's penalty is then anchored at the previous stage's end with the importance recorded over
/// every stage so far (each stage but the last records its own, added to what its penalty read); EWC(ν) recomputes its
/// Fisher at the new start; EWC-LoRA keeps its Fisher and its anchor W0; replay keeps replaying the general text.
/// Each stage is tested on its task, on every earlier task (retention) and on the general text.
/// </summary>
public static partial class ExperimentPlanner
{
    /// <summary>Whether the method's main domain run records its importance: a sequence continues it and it penalises with SI.</summary>
    static bool RecordsForSequence(ExperimentConfig c, string method) =>
        c.Sequence.Count > 0 && ExperimentMethods.Find(method)?.RecordsImportance == true;

    /// <summary>The stages after <paramref name="first"/> (the method's main run on <paramref name="task"/>), one per sequence task.</summary>
    static List<ResultEntry> Sequence(ExperimentConfig c, Builder b, string method, long seed, DomainTaskConfig task, string first)
    {
        var entries = new List<ResultEntry>();
        var previous = first;
        var earlier = new List<DomainTaskConfig> { task };
        var chain = task.Name.Replace('/', '-');
        for (int i = 0; i < c.Sequence.Count; i++)
        {
            var next = c.Sequence[i];
            var before = b.Jobs.First(j => j.Name == previous);
            // the previous stage's options, on the next task, from its adapter (its Fisher and general data as they were)
            var o = before.Train! with
            {
                Data = next.Train,
                Task = next.Task,
                InitAdapter = b.RunDir(previous),
                Importance = null,
                RecordImportance = RecordsForSequence(c, method) && i < c.Sequence.Count - 1,
            };
            // the stage depends on the one before and on what that one read, except the general stage it replaces as the start
            List<string> deps = [previous, .. before.DependsOn.Where(d => b.Jobs.First(j => j.Name == d).Kind != JobKind.General)];
            chain += "-" + next.Name.Replace('/', '-');
            var name = $"{method}-{chain}-s{seed}";
            previous = b.Add(name, DomainJob(name, method, seed, next.Name, deps, o, EvalSpec(c, [next, .. earlier])));
            entries.Add(new ResultEntry(method, seed, next.Name, previous, SequenceSweep, i + 1));
            earlier.Add(next);
        }
        return entries;
    }

    /// <summary>A domain-stage job: its options, what it depends on and its evaluation; its identity from them.</summary>
    static ExperimentJob DomainJob(
        string name,
        string method,
        long seed,
        string task,
        List<string> deps,
        FinetuneOptions o,
        Eval.EvalSuiteSpec? eval
    ) =>
        new()
        {
            Name = name,
            Kind = JobKind.Domain,
            Method = method,
            Seed = seed,
            Task = task,
            DependsOn = deps,
            Train = o,
            Eval = eval,
            Identity = Identity("domain", o, deps),
        };

    /// <summary>The sweep name of a sequence stage's row; its sweep value is the stage's place in the sequence (1 = the first task after the domain task).</summary>
    public const string SequenceSweep = "sequence";
}
