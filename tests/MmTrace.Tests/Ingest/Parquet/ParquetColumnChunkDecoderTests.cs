using MmTrace.Ingest.Parquet;

namespace MmTrace.Tests.Ingest.Parquet;

public class ParquetColumnChunkDecoderTests
{
    [Fact]
    public void Hybrid_decodes_a_bit_packed_group_then_an_rle_run_as_in_the_parquet_spec()
    {
        // Encodings.md: 0..7 bit-packed at width 3 is 10001000 11000110 11111010; header 3 = one group, bit-packed.
        // Then header 10 = an RLE run of 5, its value 4 in one byte.
        byte[] src = [0x03, 0x88, 0xC6, 0xFA, 0x0A, 0x04];
        var dst = new int[13];
        ParquetColumnChunkDecoder.DecodeHybrid(src, 3, dst);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 4, 4, 4, 4, 4], dst);
    }

    [Fact]
    public void Hybrid_stops_inside_a_group_and_reads_wide_values_bit_by_bit()
    {
        // Width 12: values 0xABC, 0x123 in a group of 8 (12 bytes); only the first 2 are wanted.
        var src = new byte[1 + 12];
        src[0] = 0x03;
        ulong packed = 0xABCUL | 0x123UL << 12;
        for (int i = 0; i < 3; i++) src[1 + i] = (byte)(packed >> (8 * i));
        var dst = new int[2];
        ParquetColumnChunkDecoder.DecodeHybrid(src, 12, dst);
        Assert.Equal([0xABC, 0x123], dst);
    }

    [Fact]
    public void A_corrupt_run_header_is_an_error_not_a_hang()
    {
        byte[] src = [0x00];
        Assert.Throws<InvalidDataException>(() => ParquetColumnChunkDecoder.DecodeHybrid(src, 1, new int[4]));
    }
}
