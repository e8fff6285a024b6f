using Alora.Lora;
using Alora.Methods;
using Alora.Runtime;
using static TorchSharp.torch;

namespace Alora.Recipes;

/// <summary>
/// ALoRA: the general stage (nu) records SI importance; the domain stage (mu) continues that adapter with the
/// penalty phi * sum_m w_m sum_i Omega_i (D_i - D_nu_i)^2, w from the importance norms (or 1/M without layer weights).
/// </summary>
public static class AloraSpecs
{
    static readonly string[] RecordingOptions =
    [
        "importance",
        "xi",
        "si-variant",
        "clamp-omega",
        "omega-dtype",
        "prior-importance",
        "record-importance",
        "phi",
        "relative-strength",
    ];

    public static MethodSpec Alora { get; } =
        new()
        {
            Method = FinetuneMethod.Alora,
            Summary = "ALoRA: SI importance on the general stage, the element- and layer-wise penalty on the domain stage",
            Options = [.. RecordingOptions, "layer-weights"],
            Stages = new Dictionary<Stage, StageHooks>
            {
                [Stage.General] = c => [Recorder(c)],
                [Stage.Domain] = c => WithRecorder(c, Regularizer(c, c.Options.LayerWeights)),
            },
            Experiment =
            [
                new()
                {
                    Name = "alora",
                    Display = "Ours",
                    ContinuesGeneral = true,
                    RecordsImportance = true,
                    Strength = ["relative-strength", "phi"],
                    Settings = (d, g) => new(Phi: d.Phi, Xi: g?.Xi, LayerWeights: d.LayerWeights),
                },
            ],
        };

    public static MethodSpec AloraNoLayer { get; } =
        new()
        {
            Method = FinetuneMethod.AloraNoLayer,
            Summary = "ALoRA without layer weights (w = 1/M): the paper's \"- layer\" ablation",
            Options = RecordingOptions,
            Stages = new Dictionary<Stage, StageHooks>
            {
                [Stage.General] = c => [Recorder(c)],
                [Stage.Domain] = c => WithRecorder(c, Regularizer(c, LayerWeighting.Uniform)),
            },
            Experiment =
            [
                new()
                {
                    Name = "alora-no-layer",
                    Display = "Ours − layer",
                    ContinuesGeneral = true,
                    RecordsImportance = true,
                    Strength = ["relative-strength", "phi"],
                    Settings = (d, g) => new(Phi: d.Phi, Xi: g?.Xi, LayerWeights: LayerWeighting.Uniform),
                },
            ],
        };

    /// <summary>Where the general stage writes its importance: --importance, else the run folder.</summary>
    public static string ImportanceOutput(FinetuneOptions o, string runDir) => o.Importance ?? Path.Combine(runDir, "importance.safetensors");

    static SiRecorder Recorder(MethodContext c)
    {
        var o = c.Options;
        if (o.RecordImportance && o.Stage == Stage.General)
            throw new AloraException("--record-importance is for --stage domain (or both): the general stage always records its importance");
        var dtype = (o.OmegaDtype ?? ComputeDtype.Float32).ToScalarType();
        return new SiRecorder(c.Adapters, o.SiVariant, o.Xi, o.ClampOmega, ImportanceOutput(o, c.RunDir), dtype, o.PriorImportance);
    }

    /// <summary>
    /// The domain stage's hooks: the penalty, and with --record-importance a recorder of this stage's SI importance whose
    /// prior is the penalty's importance (eq. 15: Omega = Omega_before + Omega_this), written to the run folder with this
    /// stage's end factors: the next domain stage continues this run and is anchored at its end (D_mu1).
    /// </summary>
    static IReadOnlyList<Training.ITrainingHook> WithRecorder(MethodContext c, AloraRegularizer regularizer)
    {
        var o = c.Options;
        if (!o.RecordImportance)
            return [regularizer];
        if (o.PriorImportance is not null)
            throw new AloraException(
                "--prior-importance is the general stage's: a domain stage's --record-importance adds the importance its penalty reads (--importance)"
            );
        var dtype = (o.OmegaDtype ?? ComputeDtype.Float32).ToScalarType();
        var output = Path.Combine(c.RunDir, "importance.safetensors");
        return [regularizer, new SiRecorder(c.Adapters, o.SiVariant, o.Xi, o.ClampOmega, output, dtype, regularizer.ImportancePath)];
    }

    static AloraRegularizer Regularizer(MethodContext c, LayerWeighting weighting)
    {
        var o = c.Options;
        var method = EnumNames<FinetuneMethod>.Name(o.Method);
        if (o.InitAdapter is null)
            throw new AloraException(
                $"--method {method} --stage domain continues the stage-nu adapter: pass --init-adapter GENERAL_RUN_DIR (the run of --stage general)"
            );
        var path = o.Importance ?? Path.Combine(o.InitAdapter, "importance.safetensors");
        if (!File.Exists(path))
            throw new AloraException($"{path}: importance file not found (give --importance FILE, written by --stage general)");
        using var importance = ImportanceFile.Load(path);
        importance.Validate(c.Adapters, path);
        CheckRecordedWith(importance, c.Adapters, path, o.InitAdapter);
        return new AloraRegularizer(c.Adapters, importance, path, o.Phi, weighting, o.RelativeStrength);
    }

    /// <summary>The importance file's stage-nu factors must be the continued adapter's: else it was recorded with another adapter.</summary>
    static void CheckRecordedWith(ImportanceFile importance, IReadOnlyList<AdaptedModule> adapters, string path, string initAdapter)
    {
        using var _ = no_grad();
        foreach (var a in adapters)
        {
            using var scope = NewDisposeScope();
            double da = a.Layer.lora_A.weight.sub(importance.A[a.Path].to(a.Layer.lora_A.weight.device)).abs().max().item<float>();
            double db = a.Layer.lora_B.weight.sub(importance.B[a.Path].to(a.Layer.lora_B.weight.device)).abs().max().item<float>();
            if (da > 1e-6 || db > 1e-6)
                throw new AloraException(
                    $"{path}: the stage-nu factors of {a.Path} differ from the adapter of --init-adapter {initAdapter}: the importance was recorded with another adapter"
                );
        }
    }
}
