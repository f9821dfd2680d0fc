using System.Globalization;
using System.IO.Compression;
using System.Text;
using MmTrace.Core;
using MmTrace.Ingest;

namespace MmTrace.Tests.Ingest;

/// <summary>Shared fixtures for the ingest tests: events covering every op and field, temp dirs, a non-seekable stream.</summary>
internal static class IngestSamples
{
    /// <summary>For every op: one event with every field present (edge values included), one with only pid and op; plus failed syscalls.</summary>
    public static TraceEvent[] EveryOpAndField(SymbolTable symbols)
    {
        var list = new List<TraceEvent>();
        int i = 0;
        foreach (var op in OpNames.All)
        {
            i++;
            var e = TraceEvent.Create(op, 1000 + i);
            e.SetTime(1_000_000L * i);
            e.SetCpu(i % 8);
            e.Comm = symbols.Intern(i % 3 == 0 ? "kworker/0:1" : i % 3 == 1 ? "a,\"quoted\" comm" : "bash");
            e.SetAddress(i == 1 ? ulong.MaxValue : 0xffff_8880_0000_0000UL + (ulong)i * 4096);
            e.SetSize(i == 2 ? ulong.MaxValue : (ulong)(i * 16));
            e.SetBytesAlloc(i == 9 ? ulong.MaxValue : (ulong)(i * 16 + 8));
            if (i % 2 == 0) e.SetOffset(i == 6 ? ulong.MaxValue : (ulong)i * 4096);
            e.SetOldAddress(0x7f00_0000_0000UL + (ulong)i);
            e.SetResult(op.ResultIsAddress() ? 0x7f12_3456_7000L + i : (i == 3 ? long.MinValue : -i));
            e.SetOrder(i == 4 ? -128 : i == 5 ? 127 : i % 11);
            e.SetMigratetype(i % 6);
            e.SetFlags(i == 6 ? ulong.MaxValue : 0xcc0UL + (ulong)i);
            e.SetProt(i % 8);
            e.SetFd(i == 7 ? int.MinValue : i == 8 ? int.MaxValue : -1);
            e.CallSite = symbols.Intern("do_sys_open+0x" + i.ToString("x", CultureInfo.InvariantCulture));
            e.Cache = symbols.Intern(op is Op.KmemCacheAlloc or Op.KmemCacheFree ? "dentry" : "kmalloc-64");
            list.Add(e);
            list.Add(TraceEvent.Create(op, -i));
        }
        var failed = TraceEvent.Create(Op.Mmap, 7);
        failed.SetResult(-12);
        list.Add(failed);
        var brk = TraceEvent.Create(Op.Brk, 7);
        brk.SetAddress(0);
        brk.SetResult(0x5555_5555_9000);
        list.Add(brk);
        return [.. list];
    }

    /// <summary>A readable description of an event with strings resolved, for comparing across symbol tables.</summary>
    public static string Describe(in TraceEvent e, SymbolTable s) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{e.Op.Name()} pid={e.Pid} present={e.Present} t={e.TimeNs} cpu={e.Cpu} a={e.Address:x} sz={e.Size} ba={e.BytesAlloc} old={e.OldAddress:x} r={e.Result} o={e.Order} mt={e.Migratetype} f={e.Flags:x} prot={e.Prot} fd={e.Fd} off={e.Offset:x} comm={s[e.Comm]} cs={s[e.CallSite]} cache={s[e.Cache]}");

    public static List<string> ReadAll(ITraceReader reader, SymbolTable s)
    {
        var batch = new TraceEvent[100];
        var result = new List<string>();
        int n;
        while ((n = reader.Read(batch)) > 0)
            for (int i = 0; i < n; i++) result.Add(Describe(batch[i], s));
        return result;
    }

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}

/// <summary>A temporary directory deleted at the end of a test.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("mmtrace-ingest-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>A stream that cannot seek and returns short reads, like a pipe.</summary>
internal sealed class PipeLikeStream(byte[] data) : Stream
{
    private int _pos;
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(buffer.Length, 1000), data.Length - _pos);
        data.AsSpan(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
