import { ApiProperty } from '@nestjs/swagger';

/** The single JSON shape of every error this API returns. */
export class ErrorResponseDto {
  @ApiProperty({ type: 'integer', description: "The response's HTTP status" })
  statusCode!: number;

  @ApiProperty({ description: "The status's name: Bad Request, Not Found, …" })
  error!: string;

  @ApiProperty({ description: 'What went wrong, for people (it names the field of an invalid input)' })
  message!: string;

  @ApiProperty({
    description: "Stable machine-readable error code; each operation's error responses list theirs",
  })
  code!: string;
}
