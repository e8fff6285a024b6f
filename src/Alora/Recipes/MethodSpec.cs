using Alora.Lora;
using Alora.Methods;
using Alora.Models;
using Alora.Training;

namespace Alora.Recipes;

/// <summary>What a method's hooks are made from: the run's options and stage, its folder, the model and its adapters.</summary>
public sealed record MethodContext(FinetuneOptions Options, Stage Stage, string RunDir, CausalLM Model, IReadOnlyList<AdaptedModule> Adapters);

/// <summary>The hooks one stage of a method adds to the training loop (none for plain LoRA).</summary>
public delegate IReadOnlyList<ITrainingHook> StageHooks(MethodContext context);

/// <summary>
/// One method, registered once in <see cref="MethodRegistry"/>: its name (<see cref="Method"/>), the options it reads
/// beyond the LoRA and training ones every method reads, the stages it runs with the hooks each adds, and the
/// experiment methods it is compared as. The CLI, the experiment's planner and its results all read this.
/// </summary>
public sealed record MethodSpec
{
    public required FinetuneMethod Method { get; init; }

    /// <summary>One line for help and the README.</summary>
    public required string Summary { get; init; }

    /// <summary>The stages the method has (general, domain) and the hooks each adds.</summary>
    public required IReadOnlyDictionary<Stage, StageHooks> Stages { get; init; }

    /// <summary>Keys of <see cref="FinetuneOptions"/> only this method (and others listing them) reads.</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>rsLoRA's scaling alpha / sqrt(r), whatever --rslora says.</summary>
    public bool RankStabilized { get; init; }

    /// <summary>Its batches mix in sequences of --general-data (--replay-fraction of each; the trainer's <c>ReplayPerStep</c>).</summary>
    public bool ReplaysGeneralData { get; init; }

    /// <summary>How an experiment compares the method: one entry per row it has in the results (LoRA has two).</summary>
    public IReadOnlyList<ExperimentMethod> Experiment { get; init; } = [];
}

/// <summary>
/// A method as an experiment runs it: its name in configs and results, its name in the paper's tables, and what its
/// domain stage needs from before it. Per seed, one general-stage run (LoRA with SI recording) serves every method
/// that continues it; one Fisher serves every method that needs it.
/// </summary>
public sealed record ExperimentMethod
{
    public required string Name { get; init; }
    public required string Display { get; init; }

    /// <summary>Set by the registry: the recipe method of its domain stage.</summary>
    public FinetuneMethod Recipe { get; init; }

    /// <summary>The domain stage continues the adapter of the shared general-stage run.</summary>
    public bool ContinuesGeneral { get; init; }

    /// <summary>Its SI settings (xi, si-variant, clamp-omega, omega-dtype) shape the shared general-stage run.</summary>
    public bool RecordsImportance { get; init; }

    /// <summary>The domain stage reads a Fisher computed on the general text.</summary>
    public bool NeedsFisher { get; init; }

    /// <summary>
    /// The domain stage reads the general text itself (option general-data: replay mixes it into batches, ewc-nu computes
    /// its Fisher on it); the planner gives it the config's general.train (and ewc-nu's fisher-samples from the fisher
    /// section unless overridden).
    /// </summary>
    public bool ReadsGeneralData { get; init; }

    /// <summary>
    /// Eval-only: not trained, but the same seed's adapter of this experiment method evaluated as W0 + beta D
    /// (adapter scaling), beta its overrides' adapter-scale. The planner trains that method's domain stage (even when
    /// it is not in the methods) and adds an evaluation job; null for a trained method.
    /// </summary>
    public string? ScalesAdapterOf { get; init; }

    /// <summary>Evaluates another method's adapter rather than training one (<see cref="ScalesAdapterOf"/>).</summary>
    public bool EvalOnly => ScalesAdapterOf is not null;

    /// <summary>
    /// The options that set the method's strength, the axis of its trade-off curve, in order of precedence: the first
    /// one a run sets is its strength (alora: relative-strength when given, else phi); empty for a method without one.
    /// Experiments sweep it (sweeps.strength) and results.csv has it in the strength column.
    /// </summary>
    public IReadOnlyList<string> Strength { get; init; } = [];

    /// <summary>Its settings as results.csv shows them, from its domain-stage options and (when it continues one) its general stage's.</summary>
    public Func<FinetuneOptions, FinetuneOptions?, MethodSettings> Settings { get; init; } = (_, _) => new();
}

/// <summary>The method settings results.csv has a column for; null where the method has no such setting.</summary>
public sealed record MethodSettings(
    double? Phi = null,
    double? Xi = null,
    LayerWeighting? LayerWeights = null,
    double? EwcLambda = null,
    double? ReplayFraction = null
);
