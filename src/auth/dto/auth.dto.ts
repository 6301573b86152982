import { ApiProperty } from '@nestjs/swagger';
import { EmailField, PasswordField } from '../../common/fields';
import { UserDto } from '../../users/dto/user.dto';

export class LoginDto {
  @EmailField({ example: 'ada@greenvalley.example' })
  email!: string;

  @PasswordField({ minLength: 1, example: 'correct horse battery' })
  password!: string;
}

export class ChangePasswordDto {
  @PasswordField({ minLength: 1, example: 'correct horse battery' })
  currentPassword!: string;

  @PasswordField({ example: 'staple battery horse correct' })
  newPassword!: string;
}

export class AccessTokenDto {
  @ApiProperty({ description: 'Send as Authorization: Bearer <accessToken> with the same X-Tenant-ID' })
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType!: 'Bearer';

  @ApiProperty({ type: 'integer', description: 'Seconds until the token expires', example: 900 })
  expiresIn!: number;

  @ApiProperty({ type: UserDto })
  user!: UserDto;
}
