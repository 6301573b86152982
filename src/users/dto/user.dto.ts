import { ApiProperty } from '@nestjs/swagger';
import { EmailField, TextField } from '../../common/fields';
import { User } from '../user.entity';

export class CreateUserDto {
  @TextField(200, { example: 'Ada' })
  firstName!: string;

  @TextField(200, { example: 'Lovelace' })
  lastName!: string;

  @EmailField({
    example: 'ada@greenvalley.example',
    description: 'Unique within the organization, ignoring case',
  })
  email!: string;
}

export class UpdateUserDto {
  @TextField(200, { required: false, example: 'Ada' })
  firstName?: string;

  @TextField(200, { required: false, example: 'Byron' })
  lastName?: string;

  @EmailField({ required: false, example: 'ada.byron@greenvalley.example' })
  email?: string;
}

export class UserDto {
  @ApiProperty({ format: 'uuid', example: '0f8b0a3e-8d9b-4c1e-9a55-3f2b1c4d5e6f' })
  id!: string;

  @ApiProperty({ example: 'Ada' })
  firstName!: string;

  @ApiProperty({ example: 'Lovelace' })
  lastName!: string;

  @ApiProperty({ format: 'email', example: 'ada@greenvalley.example' })
  email!: string;

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
      createdAt: user.createdAt.toISOString(),
      updatedAt: user.updatedAt.toISOString(),
    };
  }
}
