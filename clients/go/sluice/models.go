package sluice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"google.golang.org/protobuf/proto"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// UploadChunkBytes is the size of the chunk messages UploadModel sends.
const UploadChunkBytes = 1 << 20

// UploadModel uploads an ONNX file as the next version of header.Model (created if new): the
// header, with Sha256 set from the file when empty, then the file in UploadChunkBytes chunks. The
// header is not modified. The server loads the model and checks its input bindings before storing
// anything; errors are the call's (decode them with Details).
func (c *Client) UploadModel(ctx context.Context, header *sluicev1.ModelUploadHeader, file []byte) (*sluicev1.ModelVersion, error) {
	header = proto.CloneOf(header)
	if header.GetSha256() == "" {
		sum := sha256.Sum256(file)
		header.Sha256 = hex.EncodeToString(sum[:])
	}
	stream, err := c.Models.UploadModel(ctx)
	if err != nil {
		return nil, err
	}
	send := func(request *sluicev1.UploadModelRequest) bool {
		// io.EOF: the server has ended the call; CloseAndRecv returns its status.
		err = stream.Send(request)
		return err == nil
	}
	if send(&sluicev1.UploadModelRequest{Part: &sluicev1.UploadModelRequest_Header{Header: header}}) {
		for offset := 0; offset < len(file); offset += UploadChunkBytes {
			end := min(offset+UploadChunkBytes, len(file))
			if !send(&sluicev1.UploadModelRequest{Part: &sluicev1.UploadModelRequest_Chunk{Chunk: file[offset:end]}}) {
				break
			}
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	response, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return response.GetModelVersion(), nil
}
