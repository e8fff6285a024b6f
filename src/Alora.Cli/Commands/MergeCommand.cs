using System.CommandLine;
using Alora.Hub;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;

namespace Alora.Cli.Commands;

/// <summary>alora merge: W0 + s B A (W0 + beta s B A with --adapter-scale) written as a full HuggingFace model folder.</summary>
public static class MergeCommand
{
    public static Command Create(CliIo io)
    {
        var model = new Option<string>("--model")
        {
            Description = "base HuggingFace model folder, or ORG/NAME[@REVISION] on the hub",
            Required = true,
        };
        var adapter = new Option<string>("--adapter")
        {
            Description = "run folder or PEFT adapter folder, or ORG/NAME[@REVISION] on the hub",
            Required = true,
        };
        var scale = ModelOptions.AdapterScaleOption();
        var output = new Option<string>("--out") { Description = "folder for the merged model", Required = true };
        var dtype = NamedOptions.Create("--dtype", "dtype of the written weights", ComputeDtype.Float32);
        var cmd = new Command("merge", "Merge a LoRA adapter into its base model and write a HuggingFace model folder.");
        cmd.Add(model);
        cmd.Add(adapter);
        cmd.Add(scale);
        cmd.Add(output);
        cmd.Add(dtype);
        cmd.SetAction(p =>
        {
            var outDir = p.GetValue(output)!;
            if (!HubFiles.IsRepoSpec(p.GetValue(model)!) && Path.GetFullPath(outDir) == Path.GetFullPath(p.GetValue(model)!))
                throw new AloraException("--out must differ from --model");
            OutputCheck.NewFolder(outDir, "--out");
            var dir = HubCli.Model(io, p.GetValue(model)!);
            var type = p.GetValue(dtype).ToScalarType();
            using var lm = ModelLoader.Load(dir);
            var adapters = PeftAdapter.Apply(lm, HubCli.Adapter(io, p.GetValue(adapter)!), p.GetValue(scale) ?? 1.0);
            ModelMerge.MergeAndSave(lm, adapters, dir, outDir, type);
            var beta = p.GetValue(scale) is { } b ? $" at scale {b.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "";
            io.Out.WriteLine($"merged {adapters.Count} modules{beta} into {Path.GetFullPath(outDir)}");
            return 0;
        });
        return cmd;
    }
}
