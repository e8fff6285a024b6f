using Alora.Methods;

namespace Alora.Recipes;

/// <summary>EWC-LoRA: the domain stage adds lambda * sum F * D^2, with a Fisher computed on general text.</summary>
public static class EwcLoraSpec
{
    public static MethodSpec Spec { get; } =
        new()
        {
            Method = FinetuneMethod.EwcLora,
            Summary = "EWC's penalty lambda * sum F * D^2 on the domain stage (a Fisher from `alora fisher`)",
            Options = ["fisher", "ewc-lambda"],
            Stages = new Dictionary<Stage, StageHooks> { [Stage.Domain] = c => [Regularizer(c)] },
            Experiment =
            [
                new()
                {
                    Name = "ewc-lora",
                    Display = "EWC-LoRA",
                    NeedsFisher = true,
                    Strength = ["ewc-lambda"],
                    Settings = (d, _) => new(EwcLambda: d.EwcLambda),
                },
            ],
        };

    static EwcRegularizer Regularizer(MethodContext c)
    {
        if (string.IsNullOrWhiteSpace(c.Options.Fisher))
            throw new AloraException(
                "--method ewc-lora needs --fisher FILE: make one on general data with `alora fisher --model MODEL --data GENERAL --out fisher.safetensors`"
            );
        return EwcRegularizer.FromFile(c.Options.Fisher, c.Model, c.Adapters, c.Options.EwcLambda);
    }
}
