import { ApiProperty } from '@nestjs/swagger';

/** The single JSON shape of every error this API returns. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({ example: 'name must be shorter than or equal to 200 characters' })
  message!: string;

  @ApiProperty({
    example: 'VALIDATION_FAILED',
    description: "Stable machine-readable error code; each operation's error responses list theirs",
  })
  code!: string;
}
