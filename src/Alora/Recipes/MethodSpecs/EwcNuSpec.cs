using Alora.Data;
using Alora.Lora;
using Alora.Methods;
using Alora.Runtime;

namespace Alora.Recipes;

/// <summary>
/// EWC at nu: the domain stage (mu) continues the stage-nu adapter, as ALoRA's does, with the penalty
/// lambda * sum_m sum_i F_nu_{m,i} (D_{m,i} - D_nu_{m,i})^2, where F_nu = mean over general samples of (dL_n/dW)^2 at
/// W = W0 + D_nu (EWC-LoRA's Fisher, at the general stage's point) and D_nu the adapter's delta at the start of stage mu.
/// ALoRA's anchor with the Fisher in place of SI's importance: it isolates the importance estimator.
/// </summary>
public static class EwcNuSpec
{
    /// <summary>Where the domain stage writes (and, on --resume, reads) the Fisher at nu.</summary>
    public const string FisherFile = "fisher-nu.safetensors";

    public static MethodSpec Spec { get; } =
        new()
        {
            Method = FinetuneMethod.EwcNu,
            Summary =
                "EWC anchored at stage nu: the domain stage continues the general adapter (--init-adapter) with lambda * sum F_nu * (D - D_nu)^2, F_nu the Fisher at W0 + D_nu on --general-data",
            Options = ["fisher", "ewc-lambda", "fisher-samples", "relative-strength"],
            Stages = new Dictionary<Stage, StageHooks> { [Stage.Domain] = c => [Regularizer(c)] },
            Experiment =
            [
                new()
                {
                    Name = "ewc-nu",
                    Display = "EWC(ν)",
                    ContinuesGeneral = true,
                    ReadsGeneralData = true,
                    Strength = ["relative-strength", "ewc-lambda"],
                    Settings = (d, _) => new(EwcLambda: d.EwcLambda),
                },
            ],
        };

    static EwcRegularizer Regularizer(MethodContext c)
    {
        var o = c.Options;
        if (o.InitAdapter is null)
            throw new AloraException(
                "--method ewc-nu --stage domain continues the stage-nu adapter: pass --init-adapter GENERAL_RUN_DIR (the run of --stage general)"
            );
        // the model is W0 + D_nu here (the continued adapter, before any checkpoint is loaded): the anchor is its D
        if (!string.IsNullOrWhiteSpace(o.Fisher))
            return EwcRegularizer.FromFile(
                o.Fisher,
                c.Model,
                c.Adapters,
                o.EwcLambda,
                anchorAtCurrentDelta: true,
                relativeStrength: o.RelativeStrength
            );
        if (string.IsNullOrWhiteSpace(o.GeneralData))
            throw new AloraException(
                "--method ewc-nu needs --general-data FILE: the general text its Fisher at W0 + D_nu is computed on (or --fisher FILE)"
            );
        var path = Path.Combine(c.RunDir, FisherFile);
        if (!(o.Resume && File.Exists(path)))
            Estimate(c, path);
        return EwcRegularizer.FromFile(path, c.Model, c.Adapters, o.EwcLambda, anchorAtCurrentDelta: true, relativeStrength: o.RelativeStrength);
    }

    /// <summary>F_nu on the general text (packed at --max-length) at W0 + D_nu, one sample per gradient, written atomically.</summary>
    static void Estimate(MethodContext c, string path)
    {
        var o = c.Options;
        var data = TrainingFiles.Load(o.GeneralData!, null, o.Model, o.MaxLength);
        if (data.Any(d => d.Ids.Any(t => t < 0 || t >= c.Model.VocabSize)))
            throw new AloraException($"{o.GeneralData}: a token id lies outside the model's vocabulary [0, {c.Model.VocabSize})");
        var fo = new FisherOptions
        {
            Samples = o.FisherSamples,
            MaxLength = o.MaxLength,
            Seed = o.Seed,
            TargetModules = c.Adapters.Select(a => a.Path[(a.Path.LastIndexOf('.') + 1)..]).Distinct(StringComparer.Ordinal).ToList(),
            AtAdapters = true,
        };
        // the continued adapter is in the model: dL/dW0 = dL/dW at W0 + D_nu (FisherEstimator.FromLora)
        using var fisher = FisherEstimator.Estimate(c.Model, data, fo);
        Directory.CreateDirectory(c.RunDir);
        fisher.Save(path); // atomic (SafeTensorsWriter)
    }
}
