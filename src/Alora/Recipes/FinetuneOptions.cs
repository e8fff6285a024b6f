using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Alora.Lora;
using Alora.Methods;
using Alora.Runtime;
using Alora.Training;

namespace Alora.Recipes;

/// <summary>
/// Every setting of a fine-tuning run, typed and checked here once. The command line's options, the YAML keys of
/// <c>alora train --config</c> and of an experiment's train sections, config.json and the README's option table all
/// come from these properties: their names in kebab-case, their types, their [Description] and their defaults
/// (<see cref="OptionCatalog"/>).
/// </summary>
public sealed record FinetuneOptions
{
    [Description("HuggingFace model folder, or ORG/NAME[@REVISION] on the hub (through the Hugging Face cache)")]
    public string Model { get; init; } = "";

    [Description(
        "training data: text, JSONL text/input_ids, Parquet text, prompt/completion JSONL, or a task file with --task; a local file or hf://datasets/ORG/NAME/PATH"
    )]
    public string Data { get; init; } = "";

    [Description("run folder (configuration, metrics.jsonl, checkpoints, adapter)")]
    public string Out { get; init; } = "";

    [Description("the fine-tuning method (the options a method alone reads name it in brackets)")]
    public FinetuneMethod Method { get; init; } = FinetuneMethod.Lora;

    [Description(
        "general is stage nu (alora records importance), domain is stage mu, both runs --general-data into OUT/general then --data into OUT/domain"
    )]
    public Stage Stage { get; init; } = Stage.Domain;

    [Description(
        "general text: stage nu's data for --stage both (--data is then the domain data), the text --method replay mixes into every batch, and the text --method ewc-nu computes its Fisher on"
    )]
    public string? GeneralData { get; init; }

    [Description("read --data as this multiple-choice task (sciq, piqa, medmcqa, mcq) and train on prompt + correct answer")]
    public string? Task { get; init; }

    [Description("LoRA rank r")]
    public int Rank { get; init; } = 8;

    [Description("LoRA alpha (scaling alpha/r, or alpha/sqrt(r) with --rslora)")]
    public double Alpha { get; init; } = 32;

    [Description("dropout on the LoRA branch's input")]
    public double Dropout { get; init; } = 0.05;

    [Description("module names to adapt (comma-separated)")]
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    [Description("rank-stabilised scaling alpha/sqrt(r) (on for --method rslora)")]
    public bool Rslora { get; init; }

    [Description("peak learning rate")]
    public double Lr { get; init; } = 8e-4;

    [Description("sequences per optimizer step")]
    public int BatchSize { get; init; } = 20;

    [Description("sequences per forward pass (gradient accumulation up to --batch-size)")]
    public int MicroBatchSize { get; init; } = 4;

    [Description("passes over the data")]
    public int Epochs { get; init; } = 5;

    [Description("stop after this many optimizer steps (overrides --epochs; the schedule spans them)")]
    public int? MaxSteps { get; init; }

    [Description("tokens per sequence")]
    public int MaxLength { get; init; } = 256;

    [Description("seed of the adapter init, data order and dropout")]
    public long Seed { get; init; } = 42;

    [Description("the optimizer")]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    [Description("the learning rate after warm-up")]
    public LrSchedule Schedule { get; init; } = LrSchedule.Linear;

    [Description("share of the steps spent warming the learning rate up linearly from 0, in [0, 1)")]
    public double WarmupRatio { get; init; } = 0.03;

    [Description("AdamW's decoupled weight decay (SGD: L2 added to the gradient)")]
    public double WeightDecay { get; init; }

    [Description("clip the global gradient norm to this value (0: no clipping)")]
    public double MaxGradNorm { get; init; } = 1.0;

    [Description("write a resumable checkpoint every N steps (0: only at the end)")]
    public int CheckpointEvery { get; init; } = 50;

    [Description(
        "also write every step's metrics.jsonl numbers as TensorBoard scalars (tags train/KEY) into RUN/tensorboard; on resume its event files are rebuilt from metrics.jsonl"
    )]
    public bool Tensorboard { get; init; }

    [Description("continue the interrupted run in --out (unstated options come from its config.json)")]
    public bool Resume { get; init; }

    [Description("continue the adapter of this run folder (or PEFT adapter folder) instead of a fresh one")]
    public string? InitAdapter { get; init; }

    [Description("cpu | cuda | cuda:N")]
    public string Device { get; init; } = "cpu";

    [Description("the dtype the base model computes in (LoRA factors stay float32)")]
    public ComputeDtype Dtype { get; init; } = ComputeDtype.Float32;

    [Description(
        "the dtype the frozen base Linear weights are kept in: bfloat16 halves their memory while the model computes in float32 (each product widens its weight; exact for bfloat16 checkpoints)"
    )]
    public ComputeDtype BaseWeightsDtype { get; init; } = ComputeDtype.Float32;

    [Description(
        "importance file: written by the general stage (default: RUN/importance.safetensors), read by the domain stage (default: the one beside --init-adapter)"
    )]
    public string? Importance { get; init; }

    [Description("ALoRA's penalty strength phi")]
    public double Phi { get; init; } = 1e-3;

    [Description(
        "scale-free strength rho, replacing --phi (alora) or --ewc-lambda (ewc-nu): strength = rho * CE_0 / P_ref, so that moving the adapter as far as the general stage moved it costs rho times the first step's cross-entropy"
    )]
    public double? RelativeStrength { get; init; }

    [Description("SI's damping xi in Omega = omega / (Delta^2 + xi)")]
    public double Xi { get; init; } = 1e-3;

    [Description("which path integral the general stage records")]
    public SiVariant SiVariant { get; init; } = SiVariant.Paper;

    [Description("clamp Omega at 0 (as the original SI code; the paper's formula does not)")]
    public bool ClampOmega { get; init; } = true;

    [Description("how the per-module weights come from the importance norms")]
    public LayerWeighting LayerWeights { get; init; } = LayerWeighting.Softmax;

    [Description("dtype the importance is stored in (default float32)")]
    public ComputeDtype? OmegaDtype { get; init; }

    [Description("add the Omega of an earlier general stage (importance accumulates over tasks, eq. 15)")]
    public string? PriorImportance { get; init; }

    [Description(
        "domain stage: also record this stage's SI importance, added to the importance its penalty reads (eq. 15), into RUN/importance.safetensors with the stage's end factors, for a later domain stage to continue with --init-adapter RUN"
    )]
    public bool RecordImportance { get; init; }

    [Description("EWC's Fisher file, made by `alora fisher` on general text (ewc-nu: instead of its own at W0 + D_nu)")]
    public string? Fisher { get; init; }

    [Description("EWC's penalty strength lambda")]
    public double EwcLambda { get; init; } = 1.0;

    [Description(
        "share rho of each batch replayed from --general-data: k = round(rho * batch-size) general sequences per step, the rest domain; in [0, 1), with k < batch-size"
    )]
    public double ReplayFraction { get; init; } = 0.25;

    [Description("general sequences (one per gradient) of the Fisher ewc-nu computes at the start of stage mu")]
    public int FisherSamples { get; init; } = 256;

    [JsonIgnore]
    public bool IsRslora => Rslora || MethodRegistry.Get(Method).RankStabilized;

    /// <summary>General sequences per step: round(rho * batch-size) for a method that replays, else 0.</summary>
    [JsonIgnore]
    public int ReplayPerStep => MethodRegistry.Get(Method).ReplaysGeneralData ? BatchSchedule.ReplayCount(ReplayFraction, BatchSize) : 0;

    public TrainConfig ToTrainConfig() =>
        new()
        {
            Lr = Lr,
            BatchSize = BatchSize,
            MicroBatchSize = Math.Min(MicroBatchSize, BatchSize),
            ReplayPerStep = ReplayPerStep,
            Epochs = Epochs,
            MaxSteps = MaxSteps,
            MaxLength = MaxLength,
            Seed = Seed,
            WarmupRatio = WarmupRatio,
            WeightDecay = WeightDecay,
            MaxGradNorm = MaxGradNorm,
            CheckpointEvery = CheckpointEvery,
            TensorBoard = Tensorboard,
            Optimizer = Optimizer,
            Schedule = Schedule,
        };

    public LoraConfig ToLoraConfig() =>
        new()
        {
            R = Rank,
            Alpha = Alpha,
            Dropout = Dropout,
            TargetModules = TargetModules,
            UseRslora = IsRslora,
        };

    /// <summary>
    /// The checks of values alone (no file is looked at), so an experiment can make them for every run before the
    /// first one starts: finite numbers, named values, ranges of the training, LoRA and method settings.
    /// </summary>
    public void ValidateSettings()
    {
        foreach (var p in typeof(FinetuneOptions).GetProperties().Where(p => p.PropertyType == typeof(double)))
            if (p.GetValue(this) is double v && !double.IsFinite(v))
                throw new AloraException($"--{OptionCatalog.Key(p)} must be a finite number (got {v})");
        foreach (var p in typeof(FinetuneOptions).GetProperties().Where(p => (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType).IsEnum))
            if (p.GetValue(this) is Enum e && !Enum.IsDefined(e.GetType(), e))
                throw new AloraException($"--{OptionCatalog.Key(p)} has no value {e}");
        if (ReplayFraction is < 0 or >= 1)
            throw new AloraException($"--replay-fraction must be in [0, 1) (got {ReplayFraction})");
        if (BatchSize >= 1 && BatchSchedule.ReplayCount(ReplayFraction, BatchSize) is var k && k > BatchSize - 1)
            throw new AloraException(
                $"--replay-fraction {ReplayFraction} replays round({ReplayFraction} * {BatchSize}) = {k} of the {BatchSize} sequences of --batch-size: at most {BatchSize - 1} may be general, so that every step has domain sequences"
            );
        ToTrainConfig().Validate();
        ToLoraConfig().Validate();
        if (Phi < 0)
            throw new AloraException($"--phi must be non-negative (got {Phi})");
        if (RelativeStrength < 0)
            throw new AloraException($"--relative-strength must be non-negative (got {RelativeStrength})");
        if (Xi <= 0)
            throw new AloraException($"--xi must be positive (got {Xi})");
        if (EwcLambda < 0)
            throw new AloraException($"--ewc-lambda must be non-negative (got {EwcLambda})");
        if (FisherSamples < 1)
            throw new AloraException($"--fisher-samples must be at least 1 (got {FisherSamples})");
        if (BaseWeightsDtype == ComputeDtype.Float16)
            throw new AloraException("--base-weights-dtype is float32 or bfloat16 (got float16)");
        if (BaseWeightsDtype == ComputeDtype.BFloat16 && Dtype != ComputeDtype.Float32)
            throw new AloraException(
                $"--base-weights-dtype bfloat16 keeps weights for float32 computation; with --dtype {EnumNames<ComputeDtype>.Name(Dtype)} the whole model is already in that dtype"
            );
        if (BaseWeightsDtype == ComputeDtype.BFloat16 && Method == FinetuneMethod.EwcNu)
            throw new AloraException(
                "--method ewc-nu computes a Fisher of the base weights, which needs their gradients: use --base-weights-dtype float32"
            );
    }

    /// <summary><see cref="ValidateSettings"/>, the files every run needs, and the stages the method has.</summary>
    public void Validate()
    {
        ValidateSettings();
        if (string.IsNullOrWhiteSpace(Model))
            throw new AloraException("--model is required");
        if (string.IsNullOrWhiteSpace(Data))
            throw new AloraException("--data is required");
        if (string.IsNullOrWhiteSpace(Out))
            throw new AloraException("--out is required");
        if (Stage == Stage.Both && string.IsNullOrWhiteSpace(GeneralData))
            throw new AloraException("--stage both needs --general-data (the stage-nu text) besides --data (the domain data)");
        var spec = MethodRegistry.Get(Method);
        if (spec.ReplaysGeneralData && string.IsNullOrWhiteSpace(GeneralData))
            throw new AloraException(
                $"--method {EnumNames<FinetuneMethod>.Name(Method)} needs --general-data FILE: the general text it replays (--replay-fraction of each batch) besides --data (the domain data)"
            );
        foreach (var s in Stage == Stage.Both ? new[] { Stage.General, Stage.Domain } : [Stage])
            if (!spec.Stages.ContainsKey(s))
                throw new AloraException(
                    $"--method {EnumNames<FinetuneMethod>.Name(Method)} has no {EnumNames<Stage>.Name(s)} stage (it has {string.Join(", ", spec.Stages.Keys.Select(EnumNames<Stage>.Name))})"
                );
    }

    /// <summary>The options as JSON: kebab-case keys, values by name; what config.json and the experiment's job identities hold.</summary>
    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, OptionCatalog.Json)!.AsObject();
}
