using System.CommandLine;
using Alora.Demo;

namespace Alora.Cli.Commands;

/// <summary>alora data generate: the demo's synthetic general corpus, domain task and tokenizer.</summary>
public static class DataCommand
{
    public static Command Create(CliIo io)
    {
        var output = new Option<string>("--out") { Description = "folder for the generated files", Required = true };
        var seed = new Option<int>("--seed") { Description = "seed of the world and the splits", DefaultValueFactory = _ => DemoOptions.World.Seed };
        var size = new Option<string>("--size")
        {
            Description =
                "demo: the world alora demo uses (40 people); large: 300 people, 300k pretraining words; quick: a small world for smoke runs",
            DefaultValueFactory = _ => "demo",
        };
        size.AcceptOnlyFromAmong("demo", "large", "quick");
        var generate = new Command(
            "generate",
            "Write the demo's data: general/{pretrain,nu,heldout}.txt, general/facts-test.jsonl, domain/{train,validation,test}.jsonl (SciQ layout), tokenizer.json."
        );
        generate.Add(output);
        generate.Add(seed);
        generate.Add(size);
        generate.SetAction(p =>
        {
            var world = p.GetValue(size) switch
            {
                "large" => new SyntheticDataOptions(),
                "quick" => SyntheticDataOptions.Quick,
                _ => DemoOptions.World,
            };
            var options = world with { Seed = p.GetValue(seed) };
            var manifest = SyntheticData.Generate(p.GetValue(output)!, options);
            foreach (var f in manifest.Files)
                io.Out.WriteLine($"{f.Path, -28} {f.Format, -10} {f.Documents, 7} items {f.Words, 9} words {f.Tokens, 9} tokens");
            io.Out.WriteLine($"vocabulary: {manifest.VocabSize} tokens; written to {Path.GetFullPath(p.GetValue(output)!)}");
            return 0;
        });
        var cmd = new Command("data", "Data the project makes itself.");
        cmd.Add(generate);
        return cmd;
    }
}
