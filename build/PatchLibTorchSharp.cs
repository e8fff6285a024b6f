// MSBuild inline task (RoslynCodeTaskFactory): makes TorchSharp's libLibTorchSharp.so load on a
// libstdc++ without GLIBCXX_3.4.32 (GCC 12, Debian 12). See TorchSharpNativeFix.targets.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class AloraPatchLibTorchSharp : Task
{
    const string NeededVersion = "GLIBCXX_3.4.32";
    const string NewSymbol = "_ZSt21ios_base_library_initv"; // std::ios_base_library_init()
    const string OldSymbol = "_ZNSt8ios_base4InitC1Ev"; // std::ios_base::Init::Init()

    [Required]
    public string Directory { get; set; } = "";

    public override bool Execute()
    {
        if (!File.Exists("/proc/self/exe"))
            return true; // not Linux
        if (SystemLibStdCxxHas(NeededVersion))
            return true; // GCC 13+ runtime: nothing to do
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            try
            {
                var bytes = File.ReadAllBytes(path);
                if (!Patch(bytes))
                    continue;
                var tmp = path + ".patching";
                File.WriteAllBytes(tmp, bytes);
                File.Copy(tmp, path, true);
                File.Delete(tmp);
                Log.LogMessage(MessageImportance.High, "Alora: patched " + path + " for a libstdc++ without " + NeededVersion);
            }
            catch (Exception e)
            {
                Log.LogError("Alora: could not patch " + path + ": " + e.Message);
                return false;
            }
        }
        return true;
    }

    static bool SystemLibStdCxxHas(string version)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (var c in candidates)
            if (File.Exists(c))
                return IndexOf(File.ReadAllBytes(c), needle, 0, -1) >= 0;
        return true; // unknown layout: assume a modern runtime and leave the library alone
    }

    // Returns true when the image was changed.
    static bool Patch(byte[] b)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            return false; // not a little-endian ELF64
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A),
            shnum = BitConverter.ToUInt16(b, 0x3C),
            shstrndx = BitConverter.ToUInt16(b, 0x3E);
        long strtabOff = (long)BitConverter.ToUInt64(b, (int)(shoff + shstrndx * shentsize + 0x18));
        long dynstr = -1,
            dynsym = -1,
            dynsymSize = 0,
            versym = -1,
            verneed = -1;
        int verneedNum = 0;
        for (int i = 0; i < shnum; i++)
        {
            int h = (int)(shoff + i * shentsize);
            string name = CString(b, strtabOff + BitConverter.ToUInt32(b, h));
            long off = (long)BitConverter.ToUInt64(b, h + 0x18),
                size = (long)BitConverter.ToUInt64(b, h + 0x20);
            switch (name)
            {
                case ".dynstr":
                    dynstr = off;
                    break;
                case ".dynsym":
                    dynsym = off;
                    dynsymSize = size;
                    break;
                case ".gnu.version":
                    versym = off;
                    break;
                case ".gnu.version_r":
                    verneed = off;
                    verneedNum = (int)BitConverter.ToUInt32(b, h + 0x2C);
                    break;
            }
        }
        if (dynstr < 0 || dynsym < 0 || versym < 0 || verneed < 0)
            return false;

        // 2. the symbol: unversioned, renamed in place (NUL-padded)
        long symIndex = -1,
            nameOff = -1;
        for (long s = 0; s < dynsymSize / 24; s++)
        {
            long no = dynstr + BitConverter.ToUInt32(b, (int)(dynsym + s * 24));
            if (CString(b, no) == NewSymbol)
            {
                symIndex = s;
                nameOff = no;
                break;
            }
        }
        if (symIndex < 0)
            return false; // already patched, or another build that does not need it
        b[versym + symIndex * 2] = 1;
        b[versym + symIndex * 2 + 1] = 0;
        for (int k = 0; k < NewSymbol.Length; k++)
            b[nameOff + k] = k < OldSymbol.Length ? (byte)OldSymbol[k] : (byte)0;

        // 1. the version requirement: weak
        long vn = verneed;
        for (int n = 0; n < verneedNum; n++)
        {
            int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
            long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
            for (int a = 0; a < cnt; a++)
            {
                if (CString(b, dynstr + BitConverter.ToUInt32(b, (int)aux + 8)) == NeededVersion)
                    b[aux + 4] |= 0x2; // VER_FLG_WEAK
                aux += BitConverter.ToUInt32(b, (int)aux + 12);
            }
            vn += BitConverter.ToUInt32(b, (int)vn + 12);
        }
        return true;
    }

    static string CString(byte[] b, long off)
    {
        long end = off;
        while (end < b.Length && b[end] != 0)
            end++;
        return Encoding.ASCII.GetString(b, (int)off, (int)(end - off));
    }

    static int IndexOf(byte[] hay, byte[] needle, int start, int _)
    {
        for (int i = start; i <= hay.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return i;
        }
        return -1;
    }
}
