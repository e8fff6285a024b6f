using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.Recipes;

namespace Alora.Experiments;

/// <summary>
/// What a job does: a general-stage run (LoRA + SI recording), a Fisher pass, a domain-stage run (then its evaluation,
/// unless it is planned only for an eval-only method), the base model's evaluation, or the evaluation of a domain run's
/// adapter scaled by beta (an eval-only method such as lora-scaled).
/// </summary>
public enum JobKind
{
    General,
    Fisher,
    Domain,
    Base,
    Scaled,
}

/// <summary>One node of the experiment's DAG; its folder is DIR/runs/<see cref="Name"/>.</summary>
public sealed record ExperimentJob
{
    public required string Name { get; init; }
    public required JobKind Kind { get; init; }

    /// <summary>The experiment method (domain and base jobs); null for shared general-stage runs and Fisher passes.</summary>
    public string? Method { get; init; }
    public long? Seed { get; init; }

    /// <summary>The domain task a domain job trains on.</summary>
    public string? Task { get; init; }

    /// <summary>The recipe's options (general and domain jobs); Out is the run folder.</summary>
    public FinetuneOptions? Train { get; init; }
    public FisherRequest? Fisher { get; init; }

    /// <summary>What the run is evaluated on (base and scaled jobs, domain jobs of a method in the config); null: no evaluation.</summary>
    public EvalSuiteSpec? Eval { get; init; }

    /// <summary>A scaled job: the domain job whose adapter it evaluates (also in <see cref="DependsOn"/>).</summary>
    public string? AdapterOf { get; init; }

    /// <summary>A scaled job: beta of W0 + beta D.</summary>
    public double? AdapterScale { get; init; }

    /// <summary>Jobs whose outputs this one reads (the general-stage adapter, the Fisher, the adapter a scaled job evaluates).</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>The job's identity: what it computes, without where. Two methods that need the same run share it; a rerun with another configuration is refused.</summary>
    public required JsonObject Identity { get; init; }
}

/// <summary>A row of results.csv: a method at a seed on a task, served by run <see cref="Run"/>; sweep rows name the swept key and value.</summary>
public sealed record ResultEntry(string Method, long Seed, string Task, string Run, string? Sweep = null, double? SweepValue = null);
