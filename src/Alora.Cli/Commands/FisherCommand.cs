using System.CommandLine;
using System.Globalization;
using Alora.Methods;
using Alora.Recipes;
using Alora.Runtime;

namespace Alora.Cli.Commands;

/// <summary>alora fisher: EWC's diagonal Fisher of the base model's target weights on general data, as one safetensors file.</summary>
public static class FisherCommand
{
    public static Command Create(CliIo io)
    {
        var defaults = new FisherOptions();
        var lora = new FinetuneOptions();
        var model = new Option<string>("--model")
        {
            Description = "base HuggingFace model folder, or ORG/NAME[@REVISION] on the hub",
            Required = true,
        };
        var data = new Option<string>("--data")
        {
            Description = "general data: text, JSONL text/input_ids or Parquet text (packed into sequences as training does)",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "Fisher file to write (*.safetensors)", Required = true };
        var samples = new Option<int>("--samples")
        {
            Description = "sequences, one per gradient",
            DefaultValueFactory = _ => defaults.Samples,
        }.AtLeast(1);
        var maxLength = new Option<int>("--max-length")
        {
            Description = "tokens per sequence",
            DefaultValueFactory = _ => defaults.MaxLength,
        }.AtLeast(2);
        var targets = new Option<string[]>("--target-modules")
        {
            Description = "module names whose weights get a Fisher (comma-separated; the adapter's target modules)",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [.. lora.TargetModules],
        };
        var seed = new Option<long>("--seed") { Description = "seed of which sequences are drawn", DefaultValueFactory = _ => 42 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var dtype = NamedOptions.Create("--dtype", "compute dtype (the Fisher is float32)", ComputeDtype.Float32);
        var cmd = new Command("fisher", "Diagonal Fisher of the base model's target weights on general data (for --method ewc-lora).");
        cmd.Add(model);
        cmd.Add(data);
        cmd.Add(output);
        cmd.Add(samples);
        cmd.Add(maxLength);
        cmd.Add(targets);
        cmd.Add(seed);
        cmd.Add(device);
        cmd.Add(dtype);
        cmd.SetAction(p =>
        {
            var o = new FisherOptions
            {
                Samples = p.GetValue(samples),
                MaxLength = p.GetValue(maxLength),
                Seed = p.GetValue(seed),
                TargetModules = (p.GetValue(targets) ?? [])
                    .SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    .ToList(),
            };
            OutputCheck.File(p.GetValue(output)!, "--out");
            var dev = TorchRuntime.ParseDevice(p.GetValue(device)!);
            var type = p.GetValue(dtype).ToScalarType();
            var (modelDir, dataPath) = (HubCli.Model(io, p.GetValue(model)!), HubCli.Data(io, p.GetValue(data)!));
            var r = ProgressView.Run(io, "fisher", progress =>
                FisherEstimator.EstimateToFile(modelDir, dataPath, p.GetValue(output)!, o, dev, type, progress)
            );
            var inv = CultureInfo.InvariantCulture;
            io.Out.WriteLine($"fisher: {r.Path}");
            io.Out.WriteLine(string.Create(inv, $"modules: {r.Modules.Count}  samples: {r.Samples}  tokens: {r.Tokens}  mean: {r.Mean:G4}"));
            io.Out.WriteLine(string.Create(inv, $"seconds: {r.Seconds:F2}  bytes: {r.Bytes}"));
            if (r.Samples < o.Samples)
                io.Err.WriteLine(
                    $"note: the data holds {r.Samples} sequence(s) of up to {o.MaxLength} tokens, fewer than --samples {o.Samples}: all were used"
                );
            return 0;
        });
        return cmd;
    }
}
