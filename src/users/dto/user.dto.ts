import { ApiProperty } from '@nestjs/swagger';
import { ROLE_ENUM, Role } from '../../auth/roles';
import { EmailField, EnumField, PasswordField, TextField } from '../../common/fields';
import { User } from '../user.entity';

export class CreateUserDto {
  @TextField(200, { example: 'Ada' })
  firstName!: string;

  @TextField(200, { example: 'Lovelace' })
  lastName!: string;

  @EmailField({
    example: 'ada@greenvalley.example',
    description: 'Unique within the organization, ignoring case; the login name',
  })
  email!: string;

  @PasswordField({ description: 'At least 10 characters; stored as an argon2id hash, never returned' })
  password!: string;

  @EnumField(ROLE_ENUM, {
    required: false,
    example: 'member',
    default: 'member',
    description: 'viewer: read only; member: also writes crops and harvests; admin: everything',
  })
  role?: Role;
}

export class UpdateUserDto {
  @TextField(200, { required: false, example: 'Ada' })
  firstName?: string;

  @TextField(200, { required: false, example: 'Byron' })
  lastName?: string;

  @EmailField({ required: false, example: 'ada.byron@greenvalley.example' })
  email?: string;

  @PasswordField({
    required: false,
    description: "Sets the user's password; their access tokens issued before stop working",
  })
  password?: string;

  @EnumField(ROLE_ENUM, {
    required: false,
    example: 'viewer',
    description: 'The last admin of the organization cannot be demoted (409)',
  })
  role?: Role;
}

export class UserDto {
  @ApiProperty({ format: 'uuid', example: '0f8b0a3e-8d9b-4c1e-9a55-3f2b1c4d5e6f' })
  id!: string;

  @ApiProperty({ example: 'Ada' })
  firstName!: string;

  @ApiProperty({ example: 'Lovelace' })
  lastName!: string;

  @ApiProperty({
    example: 'ada@greenvalley.example',
    description:
      "An email address (OpenAPI's `email` format for every email accepted since it was required; one stored " +
      'before may fall outside it until an admin changes it)',
  })
  email!: string;

  @ApiProperty({ ...ROLE_ENUM, example: 'member' })
  role!: Role;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(user: User): UserDto {
    return {
      id: user.id,
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      role: user.role,
      createdAt: user.createdAt.toISOString(),
      updatedAt: user.updatedAt.toISOString(),
    };
  }
}
