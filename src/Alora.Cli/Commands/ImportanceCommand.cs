using System.CommandLine;
using System.Globalization;
using Alora.IO;
using Alora.Methods;

namespace Alora.Cli.Commands;

/// <summary>alora importance inspect FILE: per-module importance norms, the layer weights each rule gives, sizes.</summary>
public static class ImportanceCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "importance file written by --stage general" };
        var inspect = new Command("inspect", "Print per-module norms ||Omega_m||_2, layer weights and sizes of an importance file.");
        inspect.Add(file);
        inspect.SetAction(p =>
        {
            var path = p.GetValue(file)!;
            using var imp = ImportanceFile.Load(path);
            var norms = imp.Norms();
            var rules = Enum.GetValues<LayerWeighting>();
            var weights = rules.ToDictionary(r => r, r => AloraRegularizer.LayerWeights(norms, r));
            var m = imp.Metadata;
            io.Out.WriteLine($"file: {Path.GetFullPath(path)}");
            io.Out.WriteLine(
                $"variant: {imp.Variant}  xi: {m.GetValueOrDefault("xi")}  clamp: {m.GetValueOrDefault("clamp")}  steps: {m.GetValueOrDefault("steps")}  "
                    + $"tokens: {m.GetValueOrDefault("tokens")}  stages: {m.GetValueOrDefault("stages")}  dtype: {m.GetValueOrDefault("dtype")}  scaling: {imp.Scaling.ToString(CultureInfo.InvariantCulture)}"
            );
            long bytes = FileSize.Of(path);
            io.Out.WriteLine($"modules: {imp.Modules.Count}  Omega elements: {imp.OmegaElements}  file bytes: {bytes}");
            io.Out.WriteLine();
            io.Out.WriteLine(
                $"{"module", -44} {"shape", -11} {"||Omega||", 12} {"softmax", 9} {"soft-norm", 9} {"soft-log", 9} {"uniform", 9} {"neg%", 6}"
            );
            for (int i = 0; i < imp.Modules.Count; i++)
            {
                var o = imp.Omega[imp.Modules[i]];
                io.Out.WriteLine(
                    $"{imp.Modules[i], -44} {$"{o.shape[0]}x{o.shape[1]}", -11} {norms[i], 12:G5} {weights[LayerWeighting.Softmax][i], 9:F4} "
                        + $"{weights[LayerWeighting.SoftmaxNormalized][i], 9:F4} {weights[LayerWeighting.SoftmaxLog][i], 9:F4} {weights[LayerWeighting.Uniform][i], 9:F4} "
                        + $"{100.0 * imp.NegativeFraction(imp.Modules[i]), 6:F1}"
                );
            }
            double maxW = weights[LayerWeighting.Softmax].Max();
            if (maxW > 0.9)
                io.Out.WriteLine(
                    $"\nnote: the paper's softmax gives one module {maxW:P1} of the penalty (norms differ by more than a few units); see --layer-weights"
                );
            return 0;
        });
        var cmd = new Command("importance", "Importance files of ALoRA's general stage.");
        cmd.Add(inspect);
        return cmd;
    }
}
